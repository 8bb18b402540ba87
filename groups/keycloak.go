package groups

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Nerzal/gocloak/v13"
	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"
)

// KeycloakOptions configures the Keycloak source (groups.keycloak in privgate.yaml).
type KeycloakOptions struct {
	URL              string // base URL, e.g. https://keycloak.example.com
	Realm            string
	ClientID         string
	ClientSecretFile string // a mounted Secret; read at every login, never logged
	// FullPath: names are full group paths ("/developers/frontend", the group-membership
	// mapper's "Full group path" on); otherwise bare names ("frontend").
	FullPath        bool
	RefreshInterval time.Duration // full sync period (60s)
	MaxStaleness    time.Duration // past this without a sync, unknown groups warn instead of deny (15m)
	CAFile          string
	InsecureSkip    bool
	PageSize        int           // groups per listing request (100)
	RequestTimeout  time.Duration // per sync (30s)
	RefreshTimeout  time.Duration // on-demand refresh from the admission path (2s)
	RefreshEvery    time.Duration // at most one on-demand refresh this often (5s)
	Now             func() time.Time
}

// Keycloak keeps a snapshot of a realm's groups. The admission path only ever reads the snapshot;
// syncs run in the background (Run) or, for a group unknown to the snapshot, as one coalesced,
// rate-limited, short on-demand refresh (Refresh).
type Keycloak struct {
	opts   KeycloakOptions
	client *gocloak.GoCloak
	log    logr.Logger

	snap atomic.Pointer[Snapshot]

	tokenMu     sync.Mutex
	token       string
	tokenExpiry time.Time

	flight      singleflight.Group
	lastRefresh atomic.Int64 // unix nanos of the last on-demand refresh

	stateMu sync.Mutex
	state   string // for logging each state change once
}

// NewKeycloak builds the source; it does not contact Keycloak (Sync or Run do).
func NewKeycloak(opts KeycloakOptions, log logr.Logger) (*Keycloak, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.RefreshTimeout <= 0 {
		opts.RefreshTimeout = 2 * time.Second
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := gocloak.NewClient(strings.TrimRight(opts.URL, "/"))
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkip} //nolint:gosec // an explicit, documented opt-in
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("keycloak caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("keycloak caFile %s: no PEM certificate", opts.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	client.RestyClient().SetTLSClientConfig(tlsConfig)
	k := &Keycloak{opts: opts, client: client, log: log}
	k.snap.Store(&Snapshot{Set: NewSet(nil)})
	registerMetrics(k)
	return k, nil
}

// Snapshot returns the last good snapshot, marked Stale when the last successful sync is older
// than MaxStaleness. It never blocks and never does I/O.
func (k *Keycloak) Snapshot() *Snapshot {
	s := k.snap.Load()
	if !s.Synced.IsZero() && k.opts.MaxStaleness > 0 && k.opts.Now().Sub(s.Synced) > k.opts.MaxStaleness {
		stale := *s
		stale.Stale = true
		return &stale
	}
	return s
}

// Run syncs at once and then every RefreshInterval until ctx ends. Failures keep the last good
// snapshot; each change of state is logged once.
func (k *Keycloak) Run(ctx context.Context) error {
	interval := k.opts.RefreshInterval
	if interval <= 0 {
		interval = time.Minute
	}
	for {
		// Until the first success privgate is not ready: try often, and give up on a hanging
		// Keycloak quickly, so that it becomes ready as soon as Keycloak answers.
		timeout, wait := k.opts.RequestTimeout, interval
		if k.snap.Load().Synced.IsZero() {
			timeout, wait = min(timeout, 3*time.Second), min(interval, time.Second)
		}
		syncCtx, cancel := context.WithTimeout(ctx, timeout)
		_, _ = k.sync(syncCtx)
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Sync reads every group of the realm and replaces the snapshot. The snapshot keeps its Set when
// the names did not change, so the policy engine does not rewrite its store.
func (k *Keycloak) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.opts.RequestTimeout)
	defer cancel()
	_, err := k.sync(ctx)
	return err
}

func (k *Keycloak) sync(ctx context.Context) (changed bool, err error) {
	names, err := k.fetch(ctx)
	if err != nil {
		syncErrors.Inc()
		k.setState("failing", func() {
			k.log.Error(err, "keycloak group sync failing; serving the last good snapshot", "realm", k.opts.Realm, "lastSync", k.snap.Load().Synced)
		})
		return false, err
	}
	old := k.snap.Load()
	set := NewSet(names)
	if sameNames(old.Set, set) {
		set = old.Set
	}
	k.snap.Store(&Snapshot{Set: set, Synced: k.opts.Now()})
	k.setState("ok", func() {
		k.log.Info("keycloak groups synced", "realm", k.opts.Realm, "groups", set.Len())
	})
	return set != old.Set, nil
}

// Refresh re-reads the groups for a group the snapshot does not know (perhaps created a minute
// ago). Concurrent calls share one sync, at most one runs per RefreshEvery, and it gives up after
// RefreshTimeout, so the admission path never waits long. It reports whether the set changed.
func (k *Keycloak) Refresh(ctx context.Context) bool {
	now := k.opts.Now().UnixNano()
	last := k.lastRefresh.Load()
	if now-last < int64(k.opts.RefreshEvery) {
		return false
	}
	changed, _, _ := k.flight.Do("refresh", func() (any, error) {
		if !k.lastRefresh.CompareAndSwap(last, now) {
			return false, nil // another caller refreshed just now
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.RefreshTimeout)
		defer cancel()
		changed, err := k.sync(ctx)
		return changed, err
	})
	c, _ := changed.(bool)
	return c
}

func (k *Keycloak) setState(state string, logIt func()) {
	k.stateMu.Lock()
	defer k.stateMu.Unlock()
	if k.state != state {
		k.state = state
		logIt()
	}
}

// kcGroup is Keycloak's GroupRepresentation as privgate needs it. gocloak's Group lacks
// subGroupCount, which Keycloak 23+ returns instead of filling subGroups; without it a parent
// looks like a leaf, and every group would cost a /children request on every sync.
type kcGroup struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Path          string    `json:"path"`
	SubGroupCount int       `json:"subGroupCount"`
	SubGroups     []kcGroup `json:"subGroups"`
}

// fetch lists every group: top-level groups page by page, and under each the subgroups, either
// inline (Keycloak before 23 returns the whole tree) or from the paged children endpoint
// (23 and later return only subGroupCount).
func (k *Keycloak) fetch(ctx context.Context) ([]string, error) {
	var names []string
	var walk func(gs []kcGroup, parent string) error
	walk = func(gs []kcGroup, parent string) error {
		for _, g := range gs {
			path := g.Path
			if path == "" {
				path = parent + "/" + g.Name
			}
			if k.opts.FullPath {
				names = append(names, path)
			} else {
				names = append(names, g.Name)
			}
			children := g.SubGroups
			if len(children) == 0 && g.SubGroupCount > 0 {
				var err error
				if children, err = k.pages(ctx, "groups", g.ID, "children"); err != nil {
					return err
				}
			}
			if err := walk(children, path); err != nil {
				return err
			}
		}
		return nil
	}
	top, err := k.pages(ctx, "groups")
	if err != nil {
		return nil, err
	}
	if err := walk(top, ""); err != nil {
		return nil, err
	}
	return names, nil
}

// pages reads every page of a group listing under the admin realm URL.
func (k *Keycloak) pages(ctx context.Context, path ...string) ([]kcGroup, error) {
	var all []kcGroup
	for first := 0; ; first += k.opts.PageSize {
		params, err := gocloak.GetQueryParams(gocloak.GetGroupsParams{
			First: gocloak.IntP(first), Max: gocloak.IntP(k.opts.PageSize), BriefRepresentation: gocloak.BoolP(true),
		})
		if err != nil {
			return nil, err
		}
		var page []kcGroup
		if err := k.get(ctx, params, &page, path...); err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < k.opts.PageSize {
			return all, nil
		}
	}
}

// get makes one authenticated admin request through gocloak's own request helper, logging in
// again once if Keycloak answers 401 (token expired or revoked).
func (k *Keycloak) get(ctx context.Context, params map[string]string, out any, path ...string) error {
	u := strings.TrimRight(k.opts.URL, "/") + "/admin/realms/" + url.PathEscape(k.opts.Realm)
	for _, p := range path {
		u += "/" + url.PathEscape(p)
	}
	for attempt := 0; ; attempt++ {
		token, err := k.accessToken(ctx, attempt > 0)
		if err != nil {
			return err
		}
		resp, err := k.client.GetRequestWithBearerAuth(ctx, token).SetQueryParams(params).SetResult(out).Get(u)
		if err != nil {
			return fmt.Errorf("keycloak %s: %w", strings.Join(path, "/"), err)
		}
		switch {
		case resp.StatusCode() == http.StatusUnauthorized && attempt == 0:
			continue
		case resp.IsError():
			return fmt.Errorf("keycloak %s: HTTP %d", strings.Join(path, "/"), resp.StatusCode())
		}
		return nil
	}
}

// accessToken returns a token from a client-credentials login, reused until shortly before it
// expires. The secret is read from its file at each login (a rotated Secret is picked up) and
// never leaves this function but in the login request.
func (k *Keycloak) accessToken(ctx context.Context, force bool) (string, error) {
	k.tokenMu.Lock()
	defer k.tokenMu.Unlock()
	if !force && k.token != "" && k.opts.Now().Before(k.tokenExpiry) {
		return k.token, nil
	}
	secret, err := os.ReadFile(k.opts.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("keycloak client secret: %w", err)
	}
	jwt, err := k.client.LoginClient(ctx, k.opts.ClientID, strings.TrimSpace(string(secret)), k.opts.Realm)
	if err != nil {
		return "", fmt.Errorf("keycloak login as client %s: %w", k.opts.ClientID, redact(err, string(secret)))
	}
	k.token = jwt.AccessToken
	// Renew a little early: a token that expires in flight costs a 401 and a retry.
	k.tokenExpiry = k.opts.Now().Add(time.Duration(jwt.ExpiresIn)*time.Second - min(10*time.Second, time.Duration(jwt.ExpiresIn)*time.Second/10))
	return k.token, nil
}

// redact keeps a secret out of an error text, in case a library ever echoes it.
func redact(err error, secret string) error {
	if s := strings.TrimSpace(secret); s != "" && strings.Contains(err.Error(), s) {
		return errors.New(strings.ReplaceAll(err.Error(), s, "[redacted]"))
	}
	return err
}

func sameNames(a, b *Set) bool {
	if a.Len() != b.Len() {
		return false
	}
	for _, n := range b.Names() {
		if !a.Has(n) {
			return false
		}
	}
	return true
}
