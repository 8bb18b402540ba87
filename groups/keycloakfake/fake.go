// Package keycloakfake is an httptest fake of the Keycloak endpoints privgate calls, reproducing
// Keycloak's paths, status codes and JSON as documented in the Keycloak Admin REST API
// (https://www.keycloak.org/docs-api/latest/rest-api/index.html: "Groups", GroupRepresentation)
// and its OpenID Connect token endpoint (Securing Applications, "Client credentials grant"),
// and an OpenID Connect provider for oauth2-proxy (oidc.go):
//
//	POST /realms/{realm}/protocol/openid-connect/token      client_credentials; 401 unauthorized_client
//	GET  /admin/realms/{realm}/groups?first&max&search&briefRepresentation
//	GET  /admin/realms/{realm}/groups/{id}/children?first&max&briefRepresentation   (Keycloak 23+)
//	GET  /admin/realms/{realm}/group-by-path/{path}
//
// Admin calls without a valid, unexpired bearer token get 401 {"error":"HTTP 401 Unauthorized"}.
// Keycloak 23 changed group listings: before, each group carries its whole subtree in subGroups;
// from 23 on, listings carry subGroupCount and an empty subGroups, and children are read from the
// paged children endpoint. Mode selects which Keycloak is reproduced.
package keycloakfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is the Keycloak generation reproduced.
type Mode int

const (
	Before23 Mode = iota // subGroups filled with the whole tree
	Since23              // subGroupCount, children endpoint
)

// Server is a running fake.
type Server struct {
	*httptest.Server
	Realm        string
	ClientID     string
	ClientSecret string
	Mode         Mode
	TokenTTL     time.Duration

	// Knobs for tests.
	Fail500 atomic.Bool // every admin call answers 500
	Hang    atomic.Bool // every admin call waits until the client gives up

	// Counters.
	TokenRequests atomic.Int32
	AdminRequests atomic.Int32

	mu     sync.Mutex
	groups map[string]*group // by path
	tokens map[string]time.Time
	nextID int
	oidc   oidc
}

type group struct {
	id, name, path string
	children       []string // paths, sorted
}

// New starts a fake realm holding the given group paths ("/developers/frontend" creates
// "/developers" too).
func New(mode Mode, paths ...string) *Server {
	s := &Server{Realm: "platform", ClientID: "privgate", ClientSecret: "s3cr3t-value", Mode: mode, TokenTTL: 5 * time.Minute,
		groups: map[string]*group{}, tokens: map[string]time.Time{}}
	for _, p := range paths {
		s.AddGroup(p)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /realms/{realm}/protocol/openid-connect/token", s.token)
	mux.HandleFunc("GET /admin/realms/{realm}/groups", s.admin(s.listTop))
	mux.HandleFunc("GET /admin/realms/{realm}/groups/{id}/children", s.admin(s.listChildren))
	mux.HandleFunc("GET /admin/realms/{realm}/group-by-path/{path...}", s.admin(s.byPath))
	s.routeOIDC(mux)
	s.Server = httptest.NewServer(mux)
	return s
}

// AddGroup creates a group (and its missing parents), as an admin would in the console.
func (s *Server) AddGroup(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	parent := ""
	for _, name := range parts {
		p := parent + "/" + name
		if _, ok := s.groups[p]; !ok {
			s.nextID++
			s.groups[p] = &group{id: fmt.Sprintf("0000%04d-6b0c-4a53-9e1e-c0ffee%06d", s.nextID%10000, s.nextID), name: name, path: p}
			if parent != "" {
				pg := s.groups[parent]
				pg.children = append(pg.children, p)
				sort.Strings(pg.children)
			}
		}
		parent = p
	}
}

// RenameGroup renames a group, as an admin would in the console: it keeps its id, and its path
// and its subgroups' paths change.
func (s *Server) RenameGroup(path, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[path]
	if !ok {
		return
	}
	parent := path[:strings.LastIndex(path, "/")]
	newPath := parent + "/" + name
	if p, ok := s.groups[parent]; ok {
		for i, c := range p.children {
			if c == path {
				p.children[i] = newPath
			}
		}
		sort.Strings(p.children)
	}
	g.name = name
	moved := map[string]*group{}
	for p, x := range s.groups {
		if p == path || strings.HasPrefix(p, path+"/") {
			delete(s.groups, p)
			x.path = newPath + strings.TrimPrefix(p, path)
			for i, c := range x.children {
				x.children[i] = newPath + strings.TrimPrefix(c, path)
			}
			moved[x.path] = x
		}
	}
	for p, x := range moved {
		s.groups[p] = x
	}
}

// RotateSecret changes the client secret, as regenerating it in the admin console does.
func (s *Server) RotateSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ClientSecret = secret
}

// ExpireTokens makes every issued token invalid, as a token past its lifetime or a revoked
// session would be.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.TokenRequests.Add(1)
	if err := r.ParseForm(); err != nil || r.PathValue("realm") != s.Realm {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
		return
	}
	// Keycloak takes client credentials as HTTP Basic (client_secret_basic, what gocloak sends)
	// or as form fields (client_secret_post).
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	s.mu.Lock()
	want := s.ClientSecret
	s.mu.Unlock()
	if r.Form.Get("grant_type") == "authorization_code" {
		s.codeToken(w, r, id, secret)
		return
	}
	if r.Form.Get("grant_type") != "client_credentials" || id != s.ClientID || secret != want {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
		return
	}
	s.mu.Lock()
	tok := fmt.Sprintf("eyJhbGciOiJSUzI1NiJ9.fake.%d", len(s.tokens)+int(s.TokenRequests.Load()))
	s.tokens[tok] = time.Now().Add(s.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": int(s.TokenTTL.Seconds()), "refresh_expires_in": 0,
		"token_type": "Bearer", "not-before-policy": 0, "scope": "profile email",
	})
}

// admin wraps admin endpoints with Keycloak's bearer check and the test knobs.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.AdminRequests.Add(1)
		if s.Hang.Load() {
			<-r.Context().Done()
			return
		}
		if s.Fail500.Load() {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
			return
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		if !ok || time.Now().After(exp) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
			return
		}
		if r.PathValue("realm") != s.Realm {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm not found."})
			return
		}
		h(w, r)
	}
}

// representation renders a group as Keycloak's listings do in the fake's mode.
func (s *Server) representation(g *group) map[string]any {
	rep := map[string]any{"id": g.id, "name": g.name, "path": g.path, "subGroups": []any{}}
	if s.Mode == Since23 {
		rep["subGroupCount"] = len(g.children)
		return rep
	}
	subs := []any{}
	for _, c := range g.children {
		subs = append(subs, s.representation(s.groups[c]))
	}
	rep["subGroups"] = subs
	return rep
}

// page applies first/max as Keycloak does (max defaults to 100 for groups since 23; the fake
// uses it for both modes).
func page(r *http.Request, all []*group) []*group {
	first, _ := strconv.Atoi(r.URL.Query().Get("first"))
	maxN, err := strconv.Atoi(r.URL.Query().Get("max"))
	if err != nil || maxN < 0 {
		maxN = 100
	}
	if first > len(all) {
		first = len(all)
	}
	end := min(first+maxN, len(all))
	return all[first:end]
}

func (s *Server) listTop(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	search := strings.ToLower(r.URL.Query().Get("search"))
	var top []*group
	for _, g := range s.groups {
		if strings.Count(g.path, "/") == 1 && (search == "" || strings.Contains(strings.ToLower(g.name), search)) {
			top = append(top, g)
		}
	}
	sort.Slice(top, func(i, j int) bool { return top[i].name < top[j].name })
	out := []any{}
	for _, g := range page(r, top) {
		out = append(out, s.representation(g))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listChildren(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Mode == Before23 {
		// Keycloak before 23 has no GET on children.
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "RESTEASY003650: No resource method found for GET, return 405 with Allow header"})
		return
	}
	var parent *group
	for _, g := range s.groups {
		if g.id == r.PathValue("id") {
			parent = g
		}
	}
	if parent == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Could not find group by id"})
		return
	}
	var kids []*group
	for _, c := range parent.children {
		kids = append(kids, s.groups[c])
	}
	out := []any{}
	for _, g := range page(r, kids) {
		out = append(out, s.representation(g))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) byPath(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups["/"+strings.Trim(r.PathValue("path"), "/")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Group path does not exist"})
		return
	}
	writeJSON(w, http.StatusOK, s.representation(g))
}
