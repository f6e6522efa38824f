/* fault_reader.c - kc-fault-reader: a reader that dies inside a read
 * transaction (fault scenario 6).
 *
 * Usage: kc-fault-reader STORE READY_FILE FIFO
 * Opens STORE read-only, begins a read transaction (an LMDB reader slot
 * holding that snapshot), writes its log size to READY_FILE (temporary file
 * + rename, so the test sees it whole), then blocks reading FIFO. The test
 * SIGKILLs it there: the slot stays in the lock file with a dead pid until a
 * writer runs mdb_reader_check. If the FIFO is written or closed it ends the
 * transaction and exits 0.
 */
#include "kc_err.h"
#include "kc_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kc-fault-reader STORE READY_FILE FIFO\n");
        return 64;
    }
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&s, argv[1], &o);
    kc_txn_t *t = NULL;
    if (rc == 0)
        rc = kc_store_read_begin(s, &t);
    uint64_t size = 0;
    if (rc == 0)
        rc = kc_txn_log_size(t, &size);
    if (rc != 0) {
        fprintf(stderr, "kc-fault-reader: %s: %s\n", argv[1], kc_strerror(rc));
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%llu\n", (unsigned long long)size) < 0 || fclose(f) != 0 ||
        rename(tmp, argv[2]) != 0) {
        perror("kc-fault-reader: ready file");
        return 1;
    }
    int fd = open(argv[3], O_RDONLY); /* blocks until the test opens the write end */
    char c;
    if (fd >= 0) {
        while (read(fd, &c, 1) < 0)
            ;
        close(fd);
    }
    kc_txn_end(&t);
    kc_store_close(&s);
    return 0;
}
