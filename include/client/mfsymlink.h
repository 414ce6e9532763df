/* Minshall+French symlinks: a symbolic link stored as a regular file of exactly 1067 bytes,
 * "XSym\n", the target's length as four digits and "\n", the MD5 of the target in hex and
 * "\n", the target, "\n", then spaces. The Linux cifs client (mfsymlinks) and macOS write
 * the same files, so links made by any of them read the same on the others; servers without
 * symlink support (Samba without the SMB3 POSIX extensions) store them as plain files. */
#ifndef SMBQUIC_CLIENT_MFSYMLINK_H
#define SMBQUIC_CLIENT_MFSYMLINK_H

#include <stddef.h>
#include <stdint.h>

#define MFSYMLINK_FILE_SIZE 1067
#define MFSYMLINK_TARGET_MAX 1024

/* Fills out with the file for target. SQ_ERR_INVAL when target is empty or longer than
 * MFSYMLINK_TARGET_MAX bytes; SQ_ERR_CRYPTO if MD5 is unavailable. */
int mfsymlink_encode(const char *target, uint8_t out[MFSYMLINK_FILE_SIZE]);

/* Parses a file's contents: 0 with *target (NUL-terminated, caller frees) when they are a
 * well-formed link whose checksum matches; SQ_ERR_PROTO when they are not (an ordinary file
 * that happens to be 1067 bytes long); SQ_ERR_NOMEM. */
int mfsymlink_decode(const uint8_t *data, size_t len, char **target);

#endif
