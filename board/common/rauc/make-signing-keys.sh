#!/bin/sh
# Makes the key pair that signs update bundles: a certificate authority (CA) whose certificate goes
# into the image as RAUC's keyring, and a signing key with a certificate the CA issued for it.
# Keep the whole folder safe and private (a password manager or an offline USB stick, with a
# backup): a box only accepts bundles signed under the CA that was built into its image, so losing
# ca.key.pem means the boxes in the field can never be updated over the air again, and leaking it
# lets anyone update them.
#
# usage: make-signing-keys.sh OUTPUT_DIR [COMMON_NAME]
#   OUTPUT_DIR/ca.key.pem       the CA's private key: needed only to issue a new signing certificate
#   OUTPUT_DIR/ca.cert.pem      the keyring: NVR_RAUC_KEYRING for `make image`
#   OUTPUT_DIR/signing.key.pem  NVR_SIGNING_KEY for `make bundle`
#   OUTPUT_DIR/signing.cert.pem NVR_SIGNING_CERT for `make bundle`
#
# The signing certificate carries the code-signing purpose the image's RAUC checks
# (check-purpose=codesign). Validity is long (20 years) because the box checks it against the time
# the bundle was signed (use-bundle-signing-time), not against a clock it may not have.
set -eu

out=${1:?usage: make-signing-keys.sh OUTPUT_DIR [COMMON_NAME]}
name=${2:-nvr update signing}
days=7300

if [ -e "$out/ca.key.pem" ] || [ -e "$out/signing.key.pem" ]; then
	echo "make-signing-keys: $out already holds keys; refusing to overwrite them" >&2
	exit 1
fi
mkdir -p "$out"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A minimal OpenSSL config: no distinguished-name prompts, and the CA's extensions.
cat > "$work/openssl.cnf" <<CONF
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[signing]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CONF

# openssl prints key-generation progress on stderr: show it only when a step fails.
quietly() {
	"$@" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
}

quietly openssl req -config "$work/openssl.cnf" -x509 -newkey rsa:4096 -nodes -days "$days" -sha256 \
	-subj "/CN=$name CA" -extensions ca -keyout "$out/ca.key.pem" -out "$out/ca.cert.pem"
quietly openssl req -config "$work/openssl.cnf" -newkey rsa:4096 -nodes -sha256 -subj "/CN=$name" \
	-keyout "$out/signing.key.pem" -out "$work/signing.csr"
quietly openssl x509 -req -in "$work/signing.csr" -CA "$out/ca.cert.pem" -CAkey "$out/ca.key.pem" \
	-CAserial "$work/ca.srl" -CAcreateserial -days "$days" -sha256 \
	-extfile "$work/openssl.cnf" -extensions signing -out "$out/signing.cert.pem"
chmod 0644 "$out/ca.cert.pem" "$out/signing.cert.pem"
openssl verify -purpose any -CAfile "$out/ca.cert.pem" "$out/signing.cert.pem" >/dev/null
echo "make-signing-keys: wrote $out (keep ca.key.pem offline; back the folder up)"
