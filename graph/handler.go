package graph

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	coderws "github.com/coder/websocket"
	"github.com/rs/cors"

	"github.com/gantry/gantry/graph/generated"
)

// Options configure the HTTP API.
type Options struct {
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed
	// to call the API from another site, for HTTP (CORS) and websocket
	// upgrades alike. Empty: same origin only. "*": any origin.
	AllowedOrigins []string
	// ComplexityLimit and DepthLimit bound a query's cost (0: defaults).
	ComplexityLimit int
	DepthLimit      int
	// KeepAlive is the websocket ping interval (0: 10s).
	KeepAlive time.Duration
	// Ready reports whether the server can serve (database, migrations).
	Ready func(ctx context.Context) error
}

// Defaults for Options.
const (
	DefaultComplexityLimit = 2000
	DefaultDepthLimit      = 15
)

// NewHandler serves GraphiQL at /, GraphQL at /query (POST, GET, websocket
// with graphql-transport-ws and graphql-ws, SSE), /healthz and /readyz.
func NewHandler(r *Resolver, opts Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/query", withCORS(opts.AllowedOrigins, NewGraphQLServer(r, opts)))
	mux.Handle("GET /{$}", playground.Handler("Gantry", "/query"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		if opts.Ready != nil {
			if err := opts.Ready(req.Context()); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// NewGraphQLServer is the gqlgen server with Gantry's transports and limits.
func NewGraphQLServer(r *Resolver, opts Options) *handler.Server {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r}))
	keepAlive := opts.KeepAlive
	if keepAlive == 0 {
		keepAlive = 10 * time.Second
	}
	srv.AddTransport(transport.Websocket{
		Implementation:        transport.CoderWebsocketImplementation{AcceptOptions: acceptOptions(opts.AllowedOrigins)},
		KeepAlivePingInterval: keepAlive, // graphql-ws "ka" messages
		PingPongInterval:      keepAlive, // graphql-transport-ws ping/pong; a silent client is dropped
		InitTimeout:           10 * time.Second,
	})
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(orDefault(opts.ComplexityLimit, DefaultComplexityLimit)))
	srv.Use(DepthLimit{Max: orDefault(opts.DepthLimit, DefaultDepthLimit)})
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(recoverPanic)
	return srv
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// acceptOptions applies the origin policy to websocket upgrades: coder/websocket
// accepts same-origin requests and those whose Origin host matches a pattern.
func acceptOptions(origins []string) coderws.AcceptOptions {
	var o coderws.AcceptOptions
	for _, origin := range origins {
		if origin == "*" {
			o.InsecureSkipVerify = true
			continue
		}
		if u, err := url.Parse(origin); err == nil && u.Host != "" {
			o.OriginPatterns = append(o.OriginPatterns, u.Host)
		}
	}
	return o
}

// withCORS answers preflights and sets CORS headers for allowed origins;
// with none configured, browsers keep to the same origin.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Content-Type", "Authorization", "Accept"},
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler(next)
}

var _ graphql.HandlerExtension = DepthLimit{}
