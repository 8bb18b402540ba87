package keycloakfake

// The fake's OpenID Connect provider, for oauth2-proxy in front of a real controller: Keycloak's
// endpoints (Securing Applications, "OpenID Connect endpoints") for the authorization code flow,
// issuing ID tokens (RS256) whose "groups" claim lists the user's full group paths, as a group
// membership mapper with "Full group path" on does:
//
//	GET  /realms/{realm}/.well-known/openid-configuration
//	GET  /realms/{realm}/protocol/openid-connect/certs        JWKS
//	GET  /realms/{realm}/protocol/openid-connect/auth         ?username= logs that user in at once
//	POST /realms/{realm}/protocol/openid-connect/token        grant_type=authorization_code
//	GET  /realms/{realm}/protocol/openid-connect/userinfo
//
// The login form is reduced to its outcome: an authorize request naming a known user in
// username (the form's field) redirects back with a code; without one it answers the form (200).

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// OIDCClientID and OIDCClientSecret are the confidential client oauth2-proxy logs users in with.
const (
	OIDCClientID     = "oauth2-proxy"
	OIDCClientSecret = "oauth2-proxy-secret"
	keyID            = "keycloakfake"
)

type oidc struct {
	once  sync.Once
	key   *rsa.PrivateKey
	users map[string][]string // username → group paths
	codes map[string]grant
	next  int
}

type grant struct {
	user, nonce, clientID, redirectURI string
	issued                             time.Time
}

func (s *Server) routeOIDC(mux *http.ServeMux) {
	mux.HandleFunc("GET /realms/{realm}/.well-known/openid-configuration", s.realm(s.discovery))
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/certs", s.realm(s.jwks))
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/auth", s.realm(s.authorize))
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/userinfo", s.realm(s.userinfo))
}

// realm answers Keycloak's 404 for another realm.
func (s *Server) realm(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("realm") != s.Realm {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
			return
		}
		h(w, r)
	}
}

// Issuer is the realm's issuer URL, as its discovery document and tokens say.
func (s *Server) Issuer() string { return s.URL + "/realms/" + s.Realm }

// AddUser creates a user who is a member of the given groups (full paths; created when missing).
func (s *Server) AddUser(name string, groups ...string) {
	for _, g := range groups {
		s.AddGroup(g)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oidc.users == nil {
		s.oidc.users = map[string][]string{}
	}
	s.oidc.users[name] = slices.Clone(groups)
}

func (s *Server) signingKey() *rsa.PrivateKey {
	s.oidc.once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		s.oidc.key = k
	})
	return s.oidc.key
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	base := s.Issuer() + "/protocol/openid-connect"
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer(),
		"authorization_endpoint":                base + "/auth",
		"token_endpoint":                        base + "/token",
		"jwks_uri":                              base + "/certs",
		"userinfo_endpoint":                     base + "/userinfo",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"claims_supported":                      []string{"sub", "email", "email_verified", "preferred_username", "groups"},
	})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := s.signingKey().PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kid": keyID, "kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != OIDCClientID || q.Get("response_type") != "code" || err != nil || redirect.Host == "" {
		http.Error(w, "Invalid parameter: client_id, response_type or redirect_uri", http.StatusBadRequest)
		return
	}
	user := q.Get("username")
	s.mu.Lock()
	_, known := s.oidc.users[user]
	s.mu.Unlock()
	if !known {
		// The login form: a browser submits username back to this endpoint.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<form method=get action=%q>", html.EscapeString(r.URL.Path))
		for k, vs := range q {
			if k != "username" {
				fmt.Fprintf(w, "<input type=hidden name=%q value=%q>", html.EscapeString(k), html.EscapeString(vs[0]))
			}
		}
		fmt.Fprint(w, "<input name=username><button>Sign in</button></form>\n")
		return
	}
	s.mu.Lock()
	if s.oidc.codes == nil {
		s.oidc.codes = map[string]grant{}
	}
	s.oidc.next++
	code := fmt.Sprintf("code-%d-%s", s.oidc.next, user)
	s.oidc.codes[code] = grant{user: user, nonce: q.Get("nonce"), clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), issued: time.Now()}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// codeToken answers the token endpoint's authorization_code grant: a code is good once, within
// a minute, for the client and redirect_uri it was issued to.
func (s *Server) codeToken(w http.ResponseWriter, r *http.Request, id, secret string) {
	s.mu.Lock()
	g, ok := s.oidc.codes[r.Form.Get("code")]
	delete(s.oidc.codes, r.Form.Get("code"))
	groups := s.oidc.users[g.user]
	s.mu.Unlock()
	if id != OIDCClientID || secret != OIDCClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
		return
	}
	if !ok || g.clientID != id || g.redirectURI != r.Form.Get("redirect_uri") || time.Since(g.issued) > time.Minute {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Code not valid"})
		return
	}
	now := time.Now()
	claims := map[string]any{
		"iss": s.Issuer(), "sub": "user-" + g.user, "aud": id, "azp": id,
		"iat": now.Unix(), "exp": now.Add(s.TokenTTL).Unix(),
		"email": g.user + "@example.com", "email_verified": true, "preferred_username": g.user,
		"groups": orEmpty(groups),
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	idToken, err := s.sign(claims)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	access := "access-" + g.user
	s.mu.Lock()
	s.tokens[access] = now.Add(s.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "id_token": idToken, "token_type": "Bearer",
		"expires_in": int(s.TokenTTL.Seconds()), "scope": "openid email profile",
	})
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	user, ok := strings.CutPrefix(tok, "access-")
	s.mu.Lock()
	exp, valid := s.tokens[tok]
	groups := s.oidc.users[user]
	s.mu.Unlock()
	if !ok || !valid || time.Now().After(exp) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sub": "user-" + user, "email": user + "@example.com",
		"email_verified": true, "preferred_username": user, "groups": orEmpty(groups)})
}

// sign makes a compact JWS (RS256) of claims.
func (s *Server) sign(claims map[string]any) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": keyID})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.signingKey(), crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
