package fargate

import (
	"fmt"

	"github.com/gantry/gantry/executors"
)

// size is a valid Fargate task size: CPU units (1024 = 1 vCPU) and MiB.
type size struct{ cpu, memory int }

// fargateSizes lists, per CPU size, the memory range and step Fargate allows.
var fargateSizes = []struct{ cpu, min, max, step int }{
	{256, 512, 2048, 512}, // 512, 1024, 2048 (1536 is not offered)
	{512, 1024, 4096, 1024},
	{1024, 2048, 8192, 1024},
	{2048, 4096, 16384, 1024},
	{4096, 8192, 30720, 1024},
	{8192, 16384, 61440, 4096},
	{16384, 32768, 122880, 8192},
}

// sizeFor is the Fargate size a spec runs at. Unset limits take the
// host's default size (cpu/memory in executor_config), else 1 vCPU and
// 512 MiB.
func sizeFor(spec executors.Spec, def size) (size, error) {
	cores, mem := spec.CPU, spec.MemoryMB
	if cores <= 0 {
		cores = 1
		if def.cpu > 0 {
			cores = float64(def.cpu) / 1024
		}
	}
	if mem <= 0 {
		mem = max(512, def.memory)
	}
	return fit(cores, mem)
}

// defaultSize validates a host's default size: cpu in CPU units (256 =
// 0.25 vCPU) and memory in MiB must be a size Fargate offers.
func defaultSize(cpu, memory float64) (size, error) {
	if cpu == 0 && memory == 0 {
		return size{}, nil
	}
	for _, s := range fargateSizes {
		if float64(s.cpu) != cpu {
			continue
		}
		if memory == 0 {
			return size{cpu: s.cpu, memory: s.min}, nil
		}
		if sz, err := fit(cpu/1024, int(memory)); err == nil && sz.cpu == s.cpu && float64(sz.memory) == memory {
			return sz, nil
		}
		return size{}, fmt.Errorf("fargate executor_config: memory is not offered with cpu %d (%d-%d MiB)", s.cpu, s.min, s.max)
	}
	return size{}, fmt.Errorf("fargate executor_config: cpu is not a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192 or 16384 units)")
}

// fit rounds a request (cores, MiB) up to the smallest valid Fargate size.
func fit(cores float64, memoryMB int) (size, error) {
	want := int(cores*1024 + 0.5)
	for _, s := range fargateSizes {
		if s.cpu < want {
			continue
		}
		for m := s.min; m <= s.max; m += s.step {
			if s.cpu == 256 && m == 1536 {
				continue
			}
			if m >= memoryMB {
				return size{cpu: s.cpu, memory: m}, nil
			}
		}
	}
	return size{}, fmt.Errorf("no Fargate size fits %.2f vCPU and %d MiB (largest: 16 vCPU, 120 GiB)", cores, memoryMB)
}
