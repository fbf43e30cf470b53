package cloudrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/gantry/gantry/executors"
)

// Config is a Cloud Run host's executor_config. Keys are validated at host
// creation; errors name the key, never its value.
type Config struct {
	Project string
	Region  string
	// CredentialsJSON is a service-account key. Empty: the Application
	// Default Credentials of the machine Gantry runs on.
	CredentialsJSON []byte
	// ServiceAccount is the identity the job's containers run as.
	ServiceAccount string
	// Endpoint overrides the API address (host:port) for a local fake or
	// an emulator; Insecure talks plaintext gRPC to it.
	Endpoint string
	Insecure bool
	// Size is the default size for jobs that set no limits.
	Size size
}

var (
	projectRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionRE  = regexp.MustCompile(`^[a-z]+-[a-z]+\d+$`)
	emailRE   = regexp.MustCompile(`^[a-z0-9-]+@[a-z0-9.-]+\.iam\.gserviceaccount\.com$`)
)

// serviceAccountKey is the part of a key file Gantry checks and uses.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
}

// ParseConfig validates executor_config.
func ParseConfig(raw map[string]any) (Config, error) {
	str := func(k string) string { s, _ := raw[k].(string); return s }
	c := Config{Project: str("project"), Region: str("region"), ServiceAccount: str("service_account"), Endpoint: str("endpoint")}
	c.Insecure, _ = raw["insecure"].(bool)
	switch {
	case !projectRE.MatchString(c.Project):
		return c, errors.New("cloudrun executor_config: project is missing or not a Google Cloud project id")
	case !regionRE.MatchString(c.Region):
		return c, errors.New("cloudrun executor_config: region is missing or not a Cloud Run region (e.g. europe-west1)")
	case c.ServiceAccount != "" && !emailRE.MatchString(c.ServiceAccount):
		return c, errors.New("cloudrun executor_config: service_account is not a service account email")
	case c.Endpoint != "" && (strings.Contains(c.Endpoint, "://") || !strings.Contains(c.Endpoint, ":")):
		return c, errors.New("cloudrun executor_config: endpoint must be host:port (gRPC), without a scheme")
	case c.Insecure && c.Endpoint == "":
		return c, errors.New("cloudrun executor_config: insecure is only allowed with an endpoint override")
	}
	cpu, err := executors.Number(raw, "cpu")
	if err != nil {
		return c, fmt.Errorf("cloudrun executor_config: %w", err)
	}
	memory, err := executors.Number(raw, "memory")
	if err != nil {
		return c, fmt.Errorf("cloudrun executor_config: %w", err)
	}
	sz, err := defaultSize(cpu, memory)
	if err != nil {
		return c, err
	}
	c.Size = sz
	creds, err := credentials(raw["credentials_json"])
	if err != nil {
		return c, err
	}
	c.CredentialsJSON = creds
	return c, nil
}

// credentials accepts the key file as a JSON string or as an object.
func credentials(v any) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		b = []byte(v)
	case map[string]any:
		b, _ = json.Marshal(v)
	default:
		return nil, errors.New("cloudrun executor_config: credentials_json must be a service account key (JSON)")
	}
	var k serviceAccountKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, errors.New("cloudrun executor_config: credentials_json is not valid JSON")
	}
	if k.Type != "service_account" || k.ClientEmail == "" || k.PrivateKeyID == "" ||
		!strings.Contains(k.PrivateKey, "PRIVATE KEY") {
		return nil, errors.New("cloudrun executor_config: credentials_json must be a service account key with client_email, private_key_id and private_key")
	}
	return b, nil
}

// size is a valid Cloud Run Jobs instance size.
type size struct {
	cpu    int // whole vCPUs
	memory int // MiB
}

// Cloud Run Jobs allow 1, 2, 4, 6 or 8 vCPUs, each with a memory range.
var sizes = []struct{ cpu, min, max int }{
	{1, 512, 4096}, {2, 512, 8192}, {4, 2048, 16384}, {6, 4096, 24576}, {8, 4096, 32768},
}

// sizeFor is the size a spec runs at. Unset limits take the host's
// default size (cpu/memory in executor_config), else 1 vCPU and 512 MiB.
func sizeFor(spec executors.Spec, def size) (size, error) {
	cores, mem := spec.CPU, spec.MemoryMB
	if cores <= 0 {
		cores = float64(max(1, def.cpu))
	}
	if mem <= 0 {
		mem = max(512, def.memory)
	}
	return fit(cores, mem)
}

// defaultSize validates a host's default size: cpu in vCPUs and memory in
// MiB must be a size Cloud Run Jobs offer.
func defaultSize(cpu, memory float64) (size, error) {
	if cpu == 0 && memory == 0 {
		return size{}, nil
	}
	for _, s := range sizes {
		if float64(s.cpu) != cpu {
			continue
		}
		if memory != 0 && (memory < float64(s.min) || memory > float64(s.max)) {
			return size{}, fmt.Errorf("cloudrun executor_config: memory must be %d-%d MiB with cpu %d", s.min, s.max, s.cpu)
		}
		return size{cpu: s.cpu, memory: max(s.min, int(memory))}, nil
	}
	return size{}, errors.New("cloudrun executor_config: cpu is not a Cloud Run Jobs CPU size (1, 2, 4, 6 or 8)")
}

// fit rounds a request up to the smallest valid size.
func fit(cores float64, memoryMB int) (size, error) {
	for _, s := range sizes {
		if float64(s.cpu) >= cores && s.max >= memoryMB {
			return size{cpu: s.cpu, memory: max(s.min, roundUp(memoryMB, 128))}, nil
		}
	}
	return size{}, fmt.Errorf("no Cloud Run size fits %.2f vCPU and %d MiB (largest: 8 vCPU, 32 GiB)", cores, memoryMB)
}

func roundUp(n, step int) int { return (n + step - 1) / step * step }
