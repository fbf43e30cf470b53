package docker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/docker"
)

type certPair struct {
	cert, key string
	tls       tls.Certificate
	x509      *x509.Certificate
	priv      *ecdsa.PrivateKey
}

func newCert(t *testing.T, cn string, parent *certPair, server bool) *certPair {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	signer, signKey := tmpl, priv
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		signer, signKey = parent.x509, parent.priv
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &priv.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(priv)
	p := &certPair{cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		key: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})), priv: priv}
	p.x509, _ = x509.ParseCertificate(der)
	p.tls, err = tls.X509KeyPair([]byte(p.cert), []byte(p.key))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsProxy terminates TLS (client certificates required) in front of the
// local engine's unix socket, as a remote TLS Docker host would.
func tlsProxy(t *testing.T, ca, server *certPair) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.x509)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server.tls}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("unix", "/var/run/docker.sock")
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

func TestTLSHost(t *testing.T) {
	ca := newCert(t, "gantry test CA", nil, false)
	server := newCert(t, "docker", ca, true)
	client := newCert(t, "gantry", ca, false)
	addr := tlsProxy(t, ca, server)
	host := func(caPEM string) executors.Host {
		return executors.Host{ID: uuid.New(), Name: "remote", Type: schematype.ExecutorDocker, ConnectionString: addr,
			TLSEnabled: true, TLSVerify: true, Config: map[string]any{"tls_ca_cert": caPEM, "tls_cert": client.cert, "tls_key": client.key}}
	}
	ex, err := docker.New(host(ca.cert))
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Health(context.Background()); err != nil {
		t.Fatalf("health through TLS: %v", err)
	}
	wrong := newCert(t, "another CA", nil, false)
	ex, err = docker.New(host(wrong.cert))
	if err != nil {
		t.Fatal(err)
	}
	err = ex.Health(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("health with the wrong CA: %v, want a certificate error", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), client.key[40:80]) {
		t.Fatalf("error echoes the key: %v", err)
	}
}
