/* rsa_speed: what one core's RSA-2048 work costs, done the way src/crypto.c
 * does it (a fresh EVP_PKEY_CTX per operation, OpenSSL 3 EVP API).
 *
 *   rsa_speed KEY.pem [SECONDS]
 *
 * Prints one line per operation:
 *   op=NAME ops=N wall_s=W cpu_s=C per_cpu_s=R
 * per_cpu_s (operations per second of this process's CPU time) is what one
 * dedicated core does, and the figure to trust on a shared machine.
 * Operations: RSA-OAEP (SHA-1) and RSA-OAEP-256 decryption of a 32-byte key
 * (the userinfo `key` JWE), RS256 verification (the ID token) and RS256
 * signing (what the sgID stand-in pays per login). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

static double now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "rsa_speed: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *k, const EVP_MD *md, int enc)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (!ctx || (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)
		die("OAEP context");
	return ctx;
}

struct job {
	EVP_PKEY *key;
	const EVP_MD *md;
	unsigned char ct[512], sig[512], out[512];
	size_t ct_len, sig_len;
	const char *msg;
};

static void op_decrypt(struct job *j)
{
	EVP_PKEY_CTX *ctx = oaep_ctx(j->key, j->md, 0);
	size_t n = sizeof(j->out);
	if (EVP_PKEY_decrypt(ctx, j->out, &n, j->ct, j->ct_len) != 1 || n != 32)
		die("decrypt");
	EVP_PKEY_CTX_free(ctx);
}

static void op_sign(struct job *j)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = sizeof(j->sig);
	if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, j->key, NULL) != 1 ||
	    EVP_DigestSign(md, j->sig, &n, (const unsigned char *)j->msg, strlen(j->msg)) != 1)
		die("sign");
	j->sig_len = n;
	EVP_MD_CTX_free(md);
}

static void op_verify(struct job *j)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, j->key, NULL) != 1 ||
	    EVP_DigestVerify(md, j->sig, j->sig_len, (const unsigned char *)j->msg, strlen(j->msg)) != 1)
		die("verify");
	EVP_MD_CTX_free(md);
}

static void run(const char *name, void (*op)(struct job *), struct job *j, double secs)
{
	double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), w, c;
	long n = 0;
	do {
		for (int i = 0; i < 16; i++)
			op(j);
		n += 16;
		w = now(CLOCK_MONOTONIC) - w0;
	} while (w < secs);
	c = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	printf("op=%s ops=%ld wall_s=%.3f cpu_s=%.3f per_cpu_s=%.0f\n", name, n, w, c,
	       c > 0 ? (double)n / c : 0.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: rsa_speed KEY.pem [SECONDS]");
	double secs = argc > 2 ? atof(argv[2]) : 3.0;
	FILE *f = fopen(argv[1], "r");
	if (!f)
		die("cannot open the key");
	struct job j = { .msg = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0"
	                        "L3YyIiwic3ViIjoidT1iZW5jaCIsImF1ZCI6ImJlbmNoIiwiZXhwIjo0MTAyNDQ0ODAwfQ" };
	j.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!j.key || !EVP_PKEY_is_a(j.key, "RSA"))
		die("not an RSA private key");
	unsigned char cek[32];
	memset(cek, 0x5a, sizeof(cek));
	const char *names[2] = { "oaep_sha1_decrypt", "oaep_sha256_decrypt" };
	const EVP_MD *mds[2] = { EVP_sha1(), EVP_sha256() };
	for (int i = 0; i < 2; i++) {
		j.md = mds[i];
		EVP_PKEY_CTX *ctx = oaep_ctx(j.key, j.md, 1);
		j.ct_len = sizeof(j.ct);
		if (EVP_PKEY_encrypt(ctx, j.ct, &j.ct_len, cek, sizeof(cek)) != 1)
			die("encrypt");
		EVP_PKEY_CTX_free(ctx);
		run(names[i], op_decrypt, &j, secs);
	}
	run("rs256_sign", op_sign, &j, secs);
	run("rs256_verify", op_verify, &j, secs / 3);
	EVP_PKEY_free(j.key);
	return 0;
}
