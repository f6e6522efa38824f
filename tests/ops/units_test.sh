#!/bin/sh
# units_test.sh SRC BIN - the systemd units and the shipped config files.
# systemd-analyze verify needs the programs at the units' paths: it checks
# copies whose /usr/bin/ points at BIN. Each shipped config file passes the
# program's --check-config, and names every long option of its --help.
set -eu
src=$1
bin=$2
tmp=$(mktemp -d /tmp/ops_units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
for u in kcpipe-aggregator kcpipe-send kcpipe-office; do
    sed -e "s|/usr/bin/|$bin/|g" "$src/dist/systemd/$u.service" >"$tmp/$u.service"
done
if ! (cd "$tmp" && systemd-analyze verify --man=no ./kcpipe-aggregator.service \
    ./kcpipe-send.service ./kcpipe-office.service) >"$tmp/verify.out" 2>&1; then
    cat "$tmp/verify.out"
    echo "FAIL: systemd-analyze verify"
    fail=1
fi
for key in Type=notify User=kcpipe StateDirectory=kcpipe ProtectSystem=strict PrivateTmp=yes \
    NoNewPrivileges=yes 'ExecReload=/bin/kill -HUP $MAINPID' Restart=on-failure \
    'ExecStart=/usr/bin/kc-aggregator --config /etc/kcpipe/aggregator.conf'; do
    grep -qxF "$key" "$src/dist/systemd/kcpipe-aggregator.service" ||
        { echo "FAIL: kcpipe-aggregator.service lacks $key"; fail=1; }
done
# the shipped config files: valid, and every option of the program documented
KCPIPE_CONFIG_DIR=$tmp "$bin/kc-aggregator" --config "$src/dist/conf/aggregator.conf" \
    --check-config >"$tmp/out" 2>&1 || { cat "$tmp/out"; echo "FAIL: aggregator.conf"; fail=1; }
grep -q "aggregator.conf: ok" "$tmp/out" || { cat "$tmp/out"; fail=1; }
KCPIPE_CONFIG_DIR=$tmp "$bin/kc-send" --config "$src/dist/conf/send.conf" --check-config \
    --connect tcp://127.0.0.1:5555 --producer office-79 >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; echo "FAIL: send.conf"; fail=1; }
# office.conf names no office (every line commented out): one is given here
KCPIPE_CONFIG_DIR=$tmp "$bin/kc-office" --config "$src/dist/conf/office.conf" --check-config \
    --office 'hcm:79:Sở Công Thương TP. Hồ Chí Minh' --office-centre hcm=tcp://127.0.0.1:5555 \
    --office-spool hcm=/var/lib/kcpipe/office/spool-hcm --office-producer hcm=office-hcm \
    >"$tmp/out" 2>&1 || { cat "$tmp/out"; echo "FAIL: office.conf"; fail=1; }
grep -q "office.conf: ok" "$tmp/out" || { cat "$tmp/out"; fail=1; }
# the portal's unit may write only its data (and the spools under it), as kc-office's default
for key in Type=notify User=kcpipe StateDirectory=kcpipe/office ProtectSystem=strict \
    ReadWritePaths=/var/lib/kcpipe/office PrivateTmp=yes NoNewPrivileges=yes Restart=on-failure \
    'ExecStart=/usr/bin/kc-office --config /etc/kcpipe/office.conf'; do
    grep -qxF "$key" "$src/dist/systemd/kcpipe-office.service" ||
        { echo "FAIL: kcpipe-office.service lacks $key"; fail=1; }
done
"$bin/kc-office" --help | grep -q '(default 127.0.0.1:8490;' ||
    { echo "FAIL: kc-office's default listen changed: update office.conf"; fail=1; }
"$bin/kc-office" --help | grep -qF '/var/lib/kcpipe/office)' ||
    { echo "FAIL: kc-office's default data directory changed: update its unit and office.conf"; fail=1; }
for pair in kc-aggregator:aggregator kc-send:send kc-office:office; do
    prog=${pair%%:*}
    conf=$src/dist/conf/${pair#*:}.conf
    for opt in $("$bin/$prog" --help | grep -oE '^ {1,6}(-[a-zA-Z], )?--[a-z][a-z0-9-]*' |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        k=${opt#--}
        case $k in help | version | config | no-config | check-config) continue ;; esac
        # kc-office's options of its `user` command, not of the daemon
        [ "$prog" = kc-office ] && case $k in user | password-stdin) continue ;; esac
        grep -Eq "^#?$k = " "$conf" || { echo "FAIL: $conf does not document $k"; fail=1; }
    done
done
[ $fail -eq 0 ] && echo "ok: units verified, config files valid and complete"
exit $fail
