package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"biboumi/store"

	"mellium.im/xmpp/jid"
)

// ClientCert implements store.Store.
func (s *Store) ClientCert(ctx context.Context, owner jid.JID) (certPEM, keyPEM []byte, err error) {
	if err := checkJID("owner", owner); err != nil {
		return nil, nil, err
	}
	err = s.do(ctx, "client cert", func(ctx context.Context) error {
		var c, k string
		err := s.r.QueryRowContext(ctx, "SELECT cert_pem, key_pem FROM client_certs WHERE owner = $1", key(owner)).Scan(&c, &k)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		certPEM, keyPEM = []byte(c), []byte(k)
		return err
	})
	return certPEM, keyPEM, err
}

// StoreClientCert implements store.Store.
func (s *Store) StoreClientCert(ctx context.Context, owner jid.JID, certPEM, keyPEM []byte) error {
	if err := checkJID("owner", owner); err != nil {
		return err
	}
	return s.do(ctx, "store client cert", func(ctx context.Context) error {
		res, err := s.w.ExecContext(ctx, "INSERT INTO client_certs (owner, cert_pem, key_pem) VALUES ($1, $2, $3) ON CONFLICT (owner) DO NOTHING",
			key(owner), string(certPEM), string(keyPEM))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return store.ErrConflict
		}
		return nil
	})
}
