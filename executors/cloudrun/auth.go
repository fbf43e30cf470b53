package cloudrun

import (
	"context"
	"crypto/tls"
	"fmt"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

const scope = "https://www.googleapis.com/auth/cloud-platform"

// clientOptions are the options the three API clients share. Against
// Google, the client library does its own dialing and auth. Against an
// endpoint override (a fake, an emulator) Gantry dials itself so a
// plaintext endpoint still gets the service account's signed token; the
// library's own credentials refuse to travel without TLS.
// The connection Gantry dialed itself (nil otherwise) is returned too, to
// be closed with the executor.
func clientOptions(cfg Config) ([]option.ClientOption, *grpc.ClientConn, error) {
	if cfg.Endpoint == "" {
		if cfg.CredentialsJSON == nil {
			return nil, nil, nil // Application Default Credentials
		}
		return []option.ClientOption{option.WithAuthCredentialsJSON(option.ServiceAccount, cfg.CredentialsJSON)}, nil, nil
	}
	transport := grpc.WithTransportCredentials(grpccreds.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	if cfg.Insecure {
		transport = grpc.WithTransportCredentials(insecure.NewCredentials())
	}
	dial := []grpc.DialOption{transport}
	if cfg.CredentialsJSON != nil {
		// A self-signed JWT, as the client library uses for service
		// accounts: no token exchange, the key signs each token locally.
		ts, err := google.JWTAccessTokenSourceWithScope(cfg.CredentialsJSON, scope)
		if err != nil {
			return nil, nil, fmt.Errorf("cloudrun executor_config: credentials_json: private key unusable")
		}
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{ts: oauth2.ReuseTokenSource(nil, ts), secure: !cfg.Insecure}))
	}
	conn, err := grpc.NewClient(cfg.Endpoint, dial...)
	if err != nil {
		return nil, nil, fmt.Errorf("cloudrun executor_config: endpoint: %w", err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, conn, nil
}

// bearer sends a token source's token as gRPC request metadata.
type bearer struct {
	ts     oauth2.TokenSource
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := b.ts.Token()
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	return map[string]string{"authorization": "Bearer " + tok.AccessToken}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }
