package keycloakfake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestCodeFlow: discovery, authorize (the form without a user, a code with one), the token
// endpoint's code grant, and an ID token verifiable against the JWKS with the user's groups.
func TestCodeFlow(t *testing.T) {
	s := New(Since23, "/sre")
	defer s.Close()
	s.AddUser("alice", "/developers")
	var disc map[string]any
	getJSON(t, s.Issuer()+"/.well-known/openid-configuration", &disc)
	if disc["issuer"] != s.Issuer() {
		t.Fatalf("issuer %v", disc["issuer"])
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	auth := disc["authorization_endpoint"].(string) + "?" + url.Values{"client_id": {OIDCClientID}, "response_type": {"code"},
		"redirect_uri": {"http://oauth2.example.com/oauth2/callback"}, "state": {"xyz"}, "nonce": {"n-1"}}.Encode()
	tests := map[string]struct {
		user   string
		status int
	}{"the form": {"", 200}, "an unknown user: the form": {"mallory", 200}, "alice": {"alice", 302}}
	var code string
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := noFollow.Get(auth + "&username=" + tc.user)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 302 {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc.Host != "oauth2.example.com" || loc.Query().Get("state") != "xyz" {
					t.Fatalf("redirect %s", loc)
				}
				code = loc.Query().Get("code")
			}
		})
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://oauth2.example.com/oauth2/callback"},
		"client_id": {OIDCClientID}, "client_secret": {OIDCClientSecret}}
	resp, err := http.PostForm(disc["token_endpoint"].(string), form)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	idToken, _ := tok["id_token"].(string)
	parts := strings.Split(idToken, ".")
	if resp.StatusCode != 200 || len(parts) != 3 {
		t.Fatalf("token: %d %v", resp.StatusCode, tok)
	}
	var keys struct{ Keys []map[string]string }
	getJSON(t, disc["jwks_uri"].(string), &keys)
	n, _ := base64.RawURLEncoding.DecodeString(keys.Keys[0]["n"])
	e, _ := base64.RawURLEncoding.DecodeString(keys.Keys[0]["e"])
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("ID token signature: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["iss"] != s.Issuer() || claims["aud"] != OIDCClientID || claims["nonce"] != "n-1" || claims["email"] != "alice@example.com" {
		t.Errorf("claims %v", claims)
	}
	if g, _ := claims["groups"].([]any); len(g) != 1 || g[0] != "/developers" {
		t.Errorf("groups %v", claims["groups"])
	}
	// A code is good once.
	resp, _ = http.PostForm(disc["token_endpoint"].(string), form)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a code used twice: %d", resp.StatusCode)
	}
}
