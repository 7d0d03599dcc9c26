/* SPDX-License-Identifier: MIT */
/* tattletale keygen: print a new random key. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "cmd.h"

#define KEY_BYTES 32

int
tt_cmd_keygen(int argc, char **argv)
{
	unsigned char key[KEY_BYTES];
	char text[TT_B64URL_LEN(KEY_BYTES) + 1];

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: tattletale keygen\n\n"
		       "Prints a new key: %d random bytes from the operating system, as base64url.\n"
		       "Store it in a file readable only by the service, e.g.\n"
		       "  tattletale keygen > key && chmod 600 key\n", KEY_BYTES);
		return TT_EXIT_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "tattletale keygen: unexpected argument '%s'\n"
			"usage: tattletale keygen\n", argv[1]);
		return TT_EXIT_USAGE;
	}
	if (RAND_priv_bytes(key, sizeof(key)) != 1) {
		fprintf(stderr, "tattletale keygen: no randomness available from the operating system\n");
		return TT_EXIT_FAILURE;
	}
	tt_b64url_encode(key, sizeof(key), text);
	OPENSSL_cleanse(key, sizeof(key));
	printf("%s\n", text);
	OPENSSL_cleanse(text, sizeof(text));
	return fflush(stdout) == 0 ? TT_EXIT_OK : TT_EXIT_FAILURE;
}
