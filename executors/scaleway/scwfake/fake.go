// Package scwfake is a local fake of the Scaleway Serverless Jobs REST API
// (v1alpha1), enough for the official SDK's requests: job definitions, runs,
// stop, limits. Runs follow the test-workload protocol in their environment
// (GANTRY_TEST_SLEEP_MS, _EXIT, _NEVER_EXIT), and the fake can be scripted
// to throttle, refuse starts for quota, or fail runs provider-side.
package scwfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Server is a running fake.
type Server struct {
	*httptest.Server
	SecretKey string

	mu        sync.Mutex
	defs      map[string]map[string]any
	runs      map[string]*run
	throttle  int           // next requests answered 429
	latency   time.Duration // added to every request
	quotaFail int           // next starts refused for quota
	Requests  int
}

type run struct {
	id, def  string
	env      map[string]string
	created  time.Time
	stopped  time.Time
	failWith string
}

// New starts a fake that accepts secretKey.
func New(secretKey string) *Server {
	s := &Server{SecretKey: secretKey, defs: map[string]map[string]any{}, runs: map[string]*run{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Latency delays every request by d.
func (s *Server) Latency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Throttle answers the next n requests with 429.
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle = n; s.mu.Unlock() }

// FailStarts refuses the next n run starts with a quota error.
func (s *Server) FailStarts(n int) { s.mu.Lock(); s.quotaFail = n; s.mu.Unlock() }

// Definitions is how many job definitions exist.
func (s *Server) Definitions() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.defs) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delay := s.latency
	s.mu.Unlock()
	time.Sleep(delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Requests++
	if r.Header.Get("X-Auth-Token") != s.SecretKey {
		reply(w, http.StatusUnauthorized, map[string]any{"message": "authentication is denied", "type": "denied_authentication"})
		return
	}
	if s.throttle > 0 {
		s.throttle--
		reply(w, http.StatusTooManyRequests, map[string]any{"message": "rate limit exceeded"})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/serverless-jobs/v1alpha1/regions/"), "/")
	if len(parts) < 2 {
		reply(w, http.StatusNotFound, map[string]any{"message": "no such route"})
		return
	}
	s.route(w, r, parts[1:])
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, p []string) {
	switch {
	case p[0] == "jobs-limits":
		reply(w, 200, map[string]any{"secret_total_count": 100, "secret_remaining_count": 100})
	case p[0] == "job-definitions" && len(p) == 1 && r.Method == http.MethodPost:
		s.createDef(w, r)
	case p[0] == "job-definitions" && len(p) == 1:
		list := []any{}
		for _, d := range s.defs {
			list = append(list, d)
		}
		reply(w, 200, page(r, "job_definitions", list))
	case p[0] == "job-definitions" && len(p) == 3 && p[2] == "start":
		s.start(w, r, p[1])
	case p[0] == "job-runs" && len(p) == 1:
		def := r.URL.Query().Get("job_definition_id")
		list := []any{}
		for _, rn := range s.runs {
			if def == "" || rn.def == def {
				list = append(list, rn.json())
			}
		}
		reply(w, 200, page(r, "job_runs", list))
	case p[0] == "job-runs" && len(p) >= 2:
		rn, ok := s.runs[p[1]]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "job run not found"})
			return
		}
		if len(p) == 3 && p[2] == "stop" && rn.stopped.IsZero() {
			rn.stopped = time.Now()
		}
		reply(w, 200, rn.json())
	default:
		reply(w, http.StatusNotFound, map[string]any{"message": "no such route"})
	}
}

func page(r *http.Request, key string, list []any) map[string]any {
	if p, _ := strconv.Atoi(r.URL.Query().Get("page")); p > 1 {
		return map[string]any{key: []any{}, "total_count": len(list)}
	}
	return map[string]any{key: list, "total_count": len(list)}
}

func (s *Server) createDef(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["image_uri"] == "" || body["name"] == "" {
		reply(w, http.StatusBadRequest, map[string]any{"message": "invalid job definition"})
		return
	}
	body["id"] = uuid.NewString()
	s.defs[body["id"].(string)] = body
	reply(w, 200, body)
}

func (s *Server) start(w http.ResponseWriter, r *http.Request, def string) {
	if _, ok := s.defs[def]; !ok {
		reply(w, http.StatusNotFound, map[string]any{"message": "job definition not found"})
		return
	}
	if s.quotaFail > 0 {
		s.quotaFail--
		reply(w, http.StatusForbidden, map[string]any{"message": "quota exceeded", "type": "quotas_exceeded",
			"details": []any{map[string]any{"resource": "job_runs", "quota": 10, "current": 10}}})
		return
	}
	var body struct {
		Env map[string]string `json:"environment_variables"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	rn := &run{id: uuid.NewString(), def: def, env: body.Env, created: time.Now(), failWith: body.Env["GANTRY_FAKE_FAIL"]}
	s.runs[rn.id] = rn
	reply(w, 200, map[string]any{"job_runs": []any{rn.json()}})
}

// json renders the run in its current state, derived from the clock.
func (rn *run) json() map[string]any {
	started := rn.created.Add(20 * time.Millisecond)
	m := map[string]any{"id": rn.id, "job_definition_id": rn.def, "environment_variables": rn.env, "region": "fr-par",
		"created_at": rn.created.Format(time.RFC3339Nano), "cpu_limit": 1000, "memory_limit": 512, "error_message": ""}
	now := time.Now()
	sleep, _ := strconv.Atoi(rn.env["GANTRY_TEST_SLEEP_MS"])
	end := started.Add(time.Duration(sleep) * time.Millisecond)
	never := rn.env["GANTRY_TEST_NEVER_EXIT"] == "1"
	switch {
	case now.Before(started) && rn.stopped.IsZero():
		m["state"] = "queued"
	case !rn.stopped.IsZero() && (never || rn.stopped.Before(end)):
		m["state"], m["exit_code"], m["terminated_at"] = "canceled", 143, rn.stopped.Format(time.RFC3339Nano)
	case never || now.Before(end):
		m["state"] = "running"
	case rn.failWith != "":
		m["state"], m["error_message"], m["terminated_at"] = "failed", rn.failWith, end.Format(time.RFC3339Nano)
	default:
		code, _ := strconv.Atoi(rn.env["GANTRY_TEST_EXIT"])
		m["state"], m["exit_code"], m["terminated_at"] = "succeeded", code, end.Format(time.RFC3339Nano)
		if code != 0 {
			m["state"] = "failed"
		}
	}
	if !now.Before(started) {
		m["started_at"] = started.Format(time.RFC3339Nano)
	}
	return m
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
