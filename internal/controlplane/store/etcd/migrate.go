package etcd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// importOps and importBytes bound one transaction of Import: below etcd's
// default --max-txn-ops (128) and --max-request-bytes (1.5 MiB).
const (
	importOps   = 100
	importBytes = 512 << 10
)

// Import writes d into the store, which must be empty (no key under its
// prefix: no server has started on it), keeping every record's ID and
// revision, the change log and the tokens. It writes in transactions of
// importOps keys and the revision last: until then the store reads as
// empty, and an Import that failed half-way leaves keys that make the next
// one refuse (delete the prefix, e.g. etcdctl del --prefix /palisade/).
func (s *Store) Import(ctx context.Context, d *store.Dump) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	resp, err := s.cli.Get(ctx, s.p, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("etcd: import: %w", err)
	}
	if resp.Count > 0 {
		return fmt.Errorf("etcd: import: %d keys under %s already: import only into an empty store, before any server starts on it", resp.Count, s.p)
	}
	// Everything is checked before anything is written, so that a bad
	// dump leaves the store empty.
	for i := range d.Records {
		if r := &d.Records[i]; r.Revision < 1 || r.Revision > d.Revision {
			return fmt.Errorf("etcd: import: record %s/%s at revision %d, outside 1…%d", r.Kind, r.ID, r.Revision, d.Revision)
		}
	}
	for _, c := range d.Changes {
		if c.Revision < 1 || c.Revision > d.Revision {
			return fmt.Errorf("etcd: import: change at revision %d, outside 1…%d", c.Revision, d.Revision)
		}
	}
	var ops []clientv3.Op
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		// Nobody else writes meanwhile: the revision key is still absent.
		r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.revKey()), "=", 0)).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("etcd: import: %w", err)
		}
		if !r.Succeeded {
			return fmt.Errorf("etcd: import: a server started on the store during the import")
		}
		ops, size = ops[:0], 0
		return nil
	}
	put := func(k, v string) error {
		if len(ops) > 0 && size+len(k)+len(v) > importBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		ops, size = append(ops, clientv3.OpPut(k, v)), size+len(k)+len(v)
		if len(ops) == importOps {
			return flush()
		}
		return nil
	}
	kinds := map[store.Kind]int64{}
	for i := range d.Records {
		r := &d.Records[i]
		kinds[r.Kind] = max(kinds[r.Kind], r.Revision)
		if err := put(s.recKey(r.Kind, r.ID), string(encodeRecord(r, r.Revision))); err != nil {
			return err
		}
	}
	// The log: one key per revision, its entries in order.
	for i := 0; i < len(d.Changes); {
		rev := d.Changes[i].Revision
		var es []logEntry
		for ; i < len(d.Changes) && d.Changes[i].Revision == rev; i++ {
			c := d.Changes[i]
			es = append(es, logEntry{Kind: c.Kind, ID: c.ID, Account: c.Account, Region: c.Region, Op: c.Op})
			kinds[c.Kind] = max(kinds[c.Kind], rev)
		}
		v, err := json.Marshal(es)
		if err != nil {
			return err
		}
		if err := put(s.logKey(rev), string(v)); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		if err := put(s.kindKey(k), strconv.FormatInt(kinds[k], 10)); err != nil {
			return err
		}
	}
	for _, tok := range d.Tokens {
		v, _ := json.Marshal(tokenDoc{Action: tok.Action, ParamsHash: tok.ParamsHash, Response: tok.Response, Created: tok.Created.UnixMicro()})
		if err := put(s.tokKey(tok.Account, tok.Token), string(v)); err != nil {
			return err
		}
	}
	if err := put(s.revKey(), strconv.FormatInt(d.Revision, 10)); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	s.advance(d.Revision)
	return nil
}

// Snapshot writes a snapshot of the etcd member at endpoint (its whole
// key space, at one etcd revision) to the new file dst, which etcd's
// "etcdutl snapshot restore" turns into a member's data directory. It
// returns the snapshot's size. tlsCfg, if set, is the client's TLS.
func Snapshot(ctx context.Context, endpoint, dst string, tlsCfg *tls.Config) (int64, error) {
	if _, err := os.Stat(dst); err == nil {
		return 0, fmt.Errorf("etcd: snapshot: %s exists: give a new file", dst)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), Context: ctx})
	if err != nil {
		return 0, fmt.Errorf("etcd: connect to %s: %w", endpoint, err)
	}
	defer cli.Close()
	// A member that does not answer (or not to this client's TLS) fails
	// here, within a bound, not in a snapshot that waits forever.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = cli.Status(sctx, endpoint)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("etcd: snapshot of %s: the member does not answer: %w", endpoint, err)
	}
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("etcd: snapshot of %s: %w", endpoint, err)
	}
	defer rc.Close()
	// A temporary file renamed into place once whole and synced: no
	// half-written snapshot under the name asked for.
	f, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".part*")
	if err != nil {
		return 0, fmt.Errorf("etcd: snapshot: %w", err)
	}
	n, err := io.Copy(f, rc)
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("etcd: snapshot of %s: %w", endpoint, err)
	}
	return n, nil
}
