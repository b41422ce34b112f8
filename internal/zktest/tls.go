package zktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the PEM files of a TLS server's private CA, made by
// WithTLS: what a client needs to connect (CA to trust the server; a
// client certificate, since the server requires one).
type TLSFiles struct {
	CA         string // the CA certificate: trust it to verify the server
	ClientCert string // a client certificate signed by the CA
	ClientKey  string // its private key
	serverPEM  string // the server's key and certificate chain
}

// WithTLS makes the server serve clients only on a TLS port (ZooKeeper's
// secureClientPort, with the Netty connection factory, which 3.8 needs for
// TLS), with a private CA generated in its directory, requiring client
// certificates. [Server.TLS] returns the files; Addr is the TLS port. The
// harness's own probes (srvr) speak TLS too.
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// TLS returns the server's TLS files, or nil when it serves plain TCP.
func (s *Server) TLS() *TLSFiles { return s.tlsFiles }

// ClientTLS is the tls.Config the harness connects with (trusting the CA,
// presenting the client certificate).
func (f *TLSFiles) ClientTLS() (*tls.Config, error) {
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("zktest: no certificate in %s", f.CA)
	}
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// tlsConfig is the zoo.cfg of a TLS-only server: keys ZooKeeper does not
// know as configuration become "zookeeper."-prefixed system properties,
// which is where it reads the Netty factory and the ssl.* settings.
func (f *TLSFiles) tlsConfig(port int) [][2]string {
	return [][2]string{
		{"secureClientPort", fmt.Sprint(port)},
		{"secureClientPortAddress", "127.0.0.1"},
		{"serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory"},
		{"ssl.keyStore.location", f.serverPEM},
		{"ssl.keyStore.type", "PEM"},
		{"ssl.trustStore.location", f.CA},
		{"ssl.trustStore.type", "PEM"},
		{"ssl.clientAuth", "need"},
	}
}

// makeTLSFiles writes a CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate into dir (reused when present, so a
// restarted server keeps its identity).
func makeTLSFiles(dir string) (*TLSFiles, error) {
	dir = filepath.Join(dir, "tls")
	f := &TLSFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
		serverPEM:  filepath.Join(dir, "server.pem"),
	}
	if fileExists(f.serverPEM) {
		return f, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, caCert, caDER, err := newCert("paddock-test-ca", nil, nil, true)
	if err != nil {
		return nil, err
	}
	srvKey, _, srvDER, err := newCert("zookeeper", caCert, caKey, false)
	if err != nil {
		return nil, err
	}
	cliKey, _, cliDER, err := newCert("paddock-client", caCert, caKey, false)
	if err != nil {
		return nil, err
	}
	srvKeyPEM, err := keyPEM(srvKey)
	if err != nil {
		return nil, err
	}
	cliKeyPEM, err := keyPEM(cliKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		f.CA:         certPEM(caDER),
		f.serverPEM:  append(append(srvKeyPEM, certPEM(srvDER)...), certPEM(caDER)...),
		f.ClientCert: certPEM(cliDER),
		f.ClientKey:  cliKeyPEM,
	}
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// newCert makes a key and a certificate signed by parent (self-signed
// when parent is nil), valid for loopback as both server and client.
func newCert(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"paddock zktest"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.ExtKeyUsage, tmpl.DNSNames, tmpl.IPAddresses = nil, nil, nil
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, der, err
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
