#!/bin/sh
# needed_test.sh LIB - libkcingest.so, the field office's embeddable library, needs only
# what a producer needs (issue 14): ZeroMQ, LMDB, libsodium, protobuf-c and the C library
# (plus the sanitizer runtimes of a KC_SANITIZE build), and since issue 15 its import layer
# (kcimport.h): libcsv, libzip and expat (and zlib below them) to read CSV, xlsx and ods,
# libxlsxwriter for templates.
# Never the daemon side: libsystemd (the journal, sd_notify), libinih (config files),
# libcrypto (the Merkle log), jansson, libmicrohttpd. Reads the DT_NEEDED entries with readelf -d.
set -eu
lib=$1
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
if [ -z "$needed" ]; then
    echo "FAIL: $lib: no NEEDED entries (readelf -d failed?)"
    exit 1
fi
fail=0
for n in $needed; do
    case $n in
    libzmq.so.* | liblmdb.so.* | libsodium.so.* | libprotobuf-c.so.*) ;;
    libcsv.so.* | libzip.so.* | libexpat.so.* | libxlsxwriter.so.* | libz.so.*) ;; # the import layer
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
    libasan.so.* | libubsan.so.*) ;; # KC_SANITIZE=ON
    *)
        echo "FAIL: $lib needs $n: not a producer's dependency (kccommon must not pull it in)"
        fail=1
        ;;
    esac
done
for n in $needed; do
    echo "NEEDED $n"
done
[ $fail -eq 0 ] && echo "ok: libkcingest needs only what a field office needs"
exit $fail
