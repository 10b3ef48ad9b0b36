package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
)

const (
	// Region is the region the clients are made for.
	Region = "cn-hangzhou"
	// KeyID and Secret are the first tenant's key unless Config says
	// otherwise.
	KeyID  = "LTAItestenv0000000001"
	Secret = "testenv-secret-0123456789abcdef"
	// OperatorKeyID and OperatorSecret are the operator's key, which
	// administers accounts and hosts (agents and the lab use it).
	OperatorKeyID  = "LTAItestenvoperator01"
	OperatorSecret = "testenv-operator-0123456789abc"
)

// Config says how to start a server; the zero value is a fresh store.
type Config struct {
	DB            string // SQLite file, new or existing; "" = a new one in TB.TempDir
	KeyID, Secret string // the first tenant's key; "" = KeyID and Secret
	// The operator's key; "" = OperatorKeyID and OperatorSecret.
	OperatorKeyID, OperatorSecret string
	// Log receives the server's log; nil sends errors (500s, with their
	// stacks) to TB.Logf and drops the rest.
	Log *slog.Logger
	// TLS serves HTTPS with a self-signed certificate (package tlscert)
	// made in TB.TempDir; the Server's clients trust it and speak HTTPS.
	TLS bool
	// Adjust, if set, changes the server's configuration before it opens
	// (a webhook, the event trail's retention, …).
	Adjust func(*server.Config)
	// RateLimit and Analysis are the server's (zero: its defaults).
	RateLimit ratelimit.Config
	Analysis  analyze.Options
}

// Server is a running server. Its embedded *server.Server gives Ops, Store
// and Addr; KeyID and Secret are the first tenant's key, UID its account,
// OperatorKeyID and OperatorSecret the operator's key.
type Server struct {
	*server.Server
	DB                            string
	KeyID, Secret                 string
	UID                           string
	OperatorKeyID, OperatorSecret string
	// CA is the PEM certificate of a TLS server (Config.TLS), nil for
	// plain HTTP; CAFile is where it is, for SSL_CERT_FILE.
	CA     []byte
	CAFile string
	stop   func()
}

// Start opens a server, serves it in a goroutine, and stops it gracefully
// when the test ends (or at Stop). The listener is bound before Start
// returns, so requests sent before Serve accepts simply wait.
func Start(t TB, cfg Config) *Server {
	t.Helper()
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "palisade.db")
	}
	if cfg.KeyID == "" {
		cfg.KeyID, cfg.Secret = KeyID, Secret
	}
	if cfg.OperatorKeyID == "" {
		cfg.OperatorKeyID, cfg.OperatorSecret = OperatorKeyID, OperatorSecret
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	var (
		tlsCfg *tls.Config
		ca     []byte
		caFile string
	)
	if cfg.TLS {
		var err error
		if tlsCfg, caFile, _, err = tlscert.SelfSigned(t.TempDir(), "127.0.0.1", time.Now()); err != nil {
			t.Fatalf("self-signed certificate: %v", err)
		}
		if ca, err = os.ReadFile(caFile); err != nil {
			t.Fatalf("self-signed certificate: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	scfg := server.Config{Listen: "127.0.0.1:0", DB: cfg.DB, AccessKeyID: cfg.KeyID, AccessKeySecret: cfg.Secret,
		OperatorKeyID: cfg.OperatorKeyID, OperatorKeySecret: cfg.OperatorSecret, Log: cfg.Log, TLS: tlsCfg,
		RateLimit: cfg.RateLimit, Analysis: cfg.Analysis}
	if cfg.Adjust != nil {
		cfg.Adjust(&scfg)
	}
	srv, err := server.Open(ctx, scfg)
	if err != nil {
		cancel()
		t.Fatalf("server.Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	s := &Server{Server: srv, DB: cfg.DB, KeyID: cfg.KeyID, Secret: cfg.Secret, UID: srv.Key.Account,
		OperatorKeyID: cfg.OperatorKeyID, OperatorSecret: cfg.OperatorSecret, CA: ca, CAFile: caFile}
	s.stop = func() {
		once.Do(func() {
			// With view.VerifyObjects: a refused write that changed a value
			// the view shares with readers has no later write to be caught
			// at; it is caught here.
			if v := srv.Ops.InMemory(); v != nil {
				if err := v.CheckObjects(); err != nil {
					t.Errorf("%v", err)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve returned %v after shutdown", err)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// Quiet is a Config.Log that drops everything.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Stop shuts the server down gracefully (it saves its replay cache, as on
// SIGTERM). It is idempotent and also runs when the test ends.
func (s *Server) Stop() { s.stop() }

// Crash stops the server and leaves on disk what a killed server leaves:
// the database but not the replay cache a graceful stop saves next to it
// (server.Open deletes that file as it loads it, so a crash never finds
// one). The file name is the server's: if it changes, the replay test of a
// crash sees the cache survive and fails.
func (s *Server) Crash() {
	s.stop()
	os.Remove(s.DB + ".nonces")
}

// Reopen starts a new server on the same database and key (after Stop or
// Crash).
func (s *Server) Reopen(t TB) *Server {
	t.Helper()
	return Start(t, Config{DB: s.DB, KeyID: s.KeyID, Secret: s.Secret, OperatorKeyID: s.OperatorKeyID, OperatorSecret: s.OperatorSecret, Log: nil})
}

// SetClientEnv points the palisade CLI (and the SDKs' default credential
// chain) at the server, as the first tenant, for the rest of the test.
func (s *Server) SetClientEnv(t interface{ Setenv(k, v string) }) {
	t.Setenv("PALISADE_ENDPOINT", s.Addr)
	t.Setenv("PALISADE_REGION", Region)
	t.Setenv("PALISADE_ACCESS_KEY_ID", s.KeyID)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", s.Secret)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
	// palisade account and host prefer these to the pair above.
	t.Setenv("PALISADE_OPERATOR_KEY_ID", "")
	t.Setenv("PALISADE_OPERATOR_KEY_SECRET", "")
}

// SetOperatorEnv is SetClientEnv with the operator's key, for the
// operator's commands (palisade account, palisade host) and agents.
func (s *Server) SetOperatorEnv(t interface{ Setenv(k, v string) }) {
	s.SetClientEnv(t)
	t.Setenv("PALISADE_ACCESS_KEY_ID", s.OperatorKeyID)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", s.OperatorSecret)
}

// Account is a further account with its own key.
type Account struct {
	UID, KeyID, Secret string
}

// NewAccount creates another tenant as PalisadeCreateAccount does, with
// the operator's key (through the service: the server may speak TLS).
func (s *Server) NewAccount(t TB, name string) Account {
	t.Helper()
	ctx := context.Background()
	op, err := s.Ops.KeyCaller(ctx, s.OperatorKeyID)
	if err != nil {
		t.Fatalf("the operator's key: %v", err)
	}
	acct, key, err := s.Ops.CreateAccount(ctx, op, name)
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return Account{UID: acct.UID, KeyID: key.ID, Secret: key.Secret}
}

// RegisterHost issues a key scoped to host, as PalisadeRegisterHost does.
func (s *Server) RegisterHost(t TB, host string) (keyID, secret string) {
	t.Helper()
	ctx := context.Background()
	op, err := s.Ops.KeyCaller(ctx, s.OperatorKeyID)
	if err != nil {
		t.Fatalf("the operator's key: %v", err)
	}
	k, err := s.Ops.RegisterHost(ctx, op, host)
	if err != nil {
		t.Fatalf("RegisterHost %s: %v", host, err)
	}
	return k.ID, k.Secret
}

// Operator is Palisade's own client of the server with the operator's key
// (plain HTTP).
func (s *Server) Operator(t TB) *apiclient.Client {
	return APIClient(t, s.Addr, s.OperatorKeyID, s.OperatorSecret)
}

// ECS, VPC, V3, Common and API are clients of the first account; ECS, VPC,
// V3 and Common speak HTTPS to a TLS server.
func (s *Server) ECS(t TB) *ecs.Client { return s.ECSAs(t, s.KeyID, s.Secret) }
func (s *Server) VPC(t TB) *vpc.Client { return s.VPCAs(t, s.KeyID, s.Secret) }
func (s *Server) V3(t TB) *openapi.Client {
	return s.V3As(t, s.KeyID, s.Secret)
}
func (s *Server) Common(t TB) *sdk.Client { return sdkClient(t, s.sdkConfig(), s.KeyID, s.Secret) }

// ECSAs, VPCAs and V3As are the server's clients signing with another key
// (another account's).
func (s *Server) ECSAs(t TB, keyID, secret string) *ecs.Client {
	return ecsClient(t, s.sdkConfig(), s.Addr, keyID, secret)
}
func (s *Server) VPCAs(t TB, keyID, secret string) *vpc.Client {
	return vpcClient(t, s.sdkConfig(), s.Addr, keyID, secret)
}
func (s *Server) V3As(t TB, keyID, secret string) *openapi.Client {
	t.Helper()
	if s.CA == nil {
		return V3Client(t, s.Addr, keyID, secret, "")
	}
	cfg := v3Config(s.Addr, keyID, secret)
	cfg.Protocol, cfg.Ca = dara.String("HTTPS"), dara.String(string(s.CA))
	return v3Client(t, cfg)
}

// RAMAs is a classic RAM (2015-05-01) client of the server signing with a
// key: the official SDK that tenants manage their keys with.
func (s *Server) RAMAs(t TB, keyID, secret string) *ram.Client {
	t.Helper()
	c, err := ram.NewClientWithOptions(Region, s.sdkConfig(), credentials.NewAccessKeyCredential(keyID, secret))
	if err != nil {
		t.Fatalf("ram client: %v", err)
	}
	c.Domain = s.Addr
	return c
}

// STSAs is a classic STS (2015-04-01) client of the server signing with a
// key: what the Terraform provider asks GetCallerIdentity with.
func (s *Server) STSAs(t TB, keyID, secret string) *sts.Client {
	t.Helper()
	c, err := sts.NewClientWithOptions(Region, s.sdkConfig(), credentials.NewAccessKeyCredential(keyID, secret))
	if err != nil {
		t.Fatalf("sts client: %v", err)
	}
	c.Domain = s.Addr
	return c
}

// sdkConfig is SDKConfig, over HTTPS trusting the server's certificate
// when it has one.
func (s *Server) sdkConfig() *sdk.Config {
	if s.CA == nil {
		return SDKConfig()
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CA)
	return SDKConfig().WithScheme("HTTPS").WithHttpTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}})
}
func (s *Server) API(t TB) *apiclient.Client {
	return APIClient(t, s.Addr, s.KeyID, s.Secret)
}

// SDKConfig is the classic SDK's configuration for a loopback server.
func SDKConfig() *sdk.Config {
	return sdk.NewConfig().WithScheme("HTTP").WithTimeout(20 * time.Second)
}

// ECSClient is a classic ECS client (V1 signatures) that talks to addr over
// plain HTTP.
func ECSClient(t TB, addr, keyID, secret string) *ecs.Client {
	t.Helper()
	return ecsClient(t, SDKConfig(), addr, keyID, secret)
}

func ecsClient(t TB, cfg *sdk.Config, addr, keyID, secret string) *ecs.Client {
	t.Helper()
	c, err := ecs.NewClientWithOptions(Region, cfg, credentials.NewAccessKeyCredential(keyID, secret))
	if err != nil {
		t.Fatalf("ecs client: %v", err)
	}
	c.Domain = addr
	return c
}

// VPCClient is a classic VPC client (V1 signatures) that talks to addr.
func VPCClient(t TB, addr, keyID, secret string) *vpc.Client {
	t.Helper()
	return vpcClient(t, SDKConfig(), addr, keyID, secret)
}

func vpcClient(t TB, cfg *sdk.Config, addr, keyID, secret string) *vpc.Client {
	t.Helper()
	c, err := vpc.NewClientWithOptions(Region, cfg, credentials.NewAccessKeyCredential(keyID, secret))
	if err != nil {
		t.Fatalf("vpc client: %v", err)
	}
	c.Domain = addr
	return c
}

// CommonClient is the classic SDK's generic client, for
// ProcessCommonRequest (set the request's Domain to addr).
func CommonClient(t TB, addr, keyID, secret string) *sdk.Client {
	t.Helper()
	return sdkClient(t, SDKConfig(), keyID, secret)
}

func sdkClient(t TB, cfg *sdk.Config, keyID, secret string) *sdk.Client {
	t.Helper()
	c, err := sdk.NewClientWithOptions(Region, cfg, credentials.NewAccessKeyCredential(keyID, secret))
	if err != nil {
		t.Fatalf("sdk client: %v", err)
	}
	return c
}

// V3Client is a darabonba (Tea) client for CallApi; algorithm "" signs with
// V3 (ACS3-HMAC-SHA256), "v2" with V1 through DoRPCRequest.
func V3Client(t TB, addr, keyID, secret, algorithm string) *openapi.Client {
	t.Helper()
	cfg := v3Config(addr, keyID, secret)
	if algorithm != "" {
		cfg.SignatureAlgorithm = dara.String(algorithm)
	}
	return v3Client(t, cfg)
}

func v3Config(addr, keyID, secret string) *openapi.Config {
	return &openapi.Config{AccessKeyId: dara.String(keyID), AccessKeySecret: dara.String(secret),
		Endpoint: dara.String(addr), Protocol: dara.String("HTTP"), RegionId: dara.String(Region)}
}

func v3Client(t TB, cfg *openapi.Config) *openapi.Client {
	t.Helper()
	c, err := openapi.NewClient(cfg)
	if err != nil {
		t.Fatalf("darabonba client: %v", err)
	}
	return c
}

// APIClient is Palisade's own client of addr.
func APIClient(t TB, addr, keyID, secret string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(addr, keyID, secret, Region)
	if err != nil {
		t.Fatalf("apiclient: %v", err)
	}
	return c
}

// logWriter sends the server's log lines to the test log.
type logWriter struct{ t TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("server: %s", p)
	return len(p), nil
}
