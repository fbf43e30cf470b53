// Package dockertest builds the Docker test image: FROM scratch with the
// static testworkload program, since no image can be pulled here. The tag
// carries the binary's hash, so repeated runs reuse the image.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

var (
	once  sync.Once
	tag   string
	onErr error
)

// Image returns the tag of the test image, building it once per process.
// It fails the test (never skips) when the engine is unreachable.
func Image(t testing.TB) string {
	t.Helper()
	once.Do(func() { tag, onErr = Build(context.Background(), t.TempDir()) })
	if onErr != nil {
		t.Fatalf("docker test image: %v", onErr)
	}
	return tag
}

// Build compiles testworkload into dir and builds (or finds) the image.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "testworkload")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/gantry/gantry/executors/testworkload")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build testworkload: %v: %s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	ref := "gantry-testworkload:" + hex.EncodeToString(sum[:])[:12]
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx); err != nil {
		return "", fmt.Errorf("Docker Engine unreachable: %w", err)
	}
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	tarball, err := buildContext(b)
	if err != nil {
		return "", err
	}
	resp, err := cli.ImageBuild(ctx, tarball, build.ImageBuildOptions{Tags: []string{ref}, Remove: true, Version: build.BuilderV1})
	if err != nil {
		return "", fmt.Errorf("image build: %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		return "", fmt.Errorf("image build failed: %s", out)
	}
	return ref, nil
}

func buildContext(bin []byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY testworkload /testworkload\nENTRYPOINT [\"/testworkload\"]\n")},
		{"testworkload", 0o755, bin},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}
