/* Unit tests for connection options (include/client/options.h): UNC parsing, the mount.cifs-style
 * -o option string, credentials files (including their permission check) and the combination
 * checks of sq_options_validate. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/options.h"
#include "smb2/proto.h"
#include "util/error.h"

static char why[256];

/* Fresh options with a known environment: USER=alice, no PASSWD. */
static void opts_init(struct sq_options *o)
{
    setenv("USER", "alice", 1);
    unsetenv("PASSWD");
    sq_options_init(o);
    why[0] = '\0';
}

static void assert_why_contains(const char *needle)
{
    ck_assert_msg(strstr(why, needle) != NULL, "message '%s' lacks '%s'", why, needle);
}

/* ---- defaults ------------------------------------------------------------------------------- */

START_TEST(test_defaults)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert_int_eq(o.transport, SQ_TRANSPORT_QUIC);
    ck_assert_uint_eq(o.dialect, SMB2_DIALECT_0311);
    ck_assert_int_eq(o.sec, AUTH_MECH_ANY);
    ck_assert_str_eq(o.username, "alice");
    ck_assert_ptr_null(o.password);
    ck_assert_ptr_null(o.domain);
    ck_assert_uint_eq(o.port, 0);
    ck_assert(!o.sign && !o.seal && !o.guest);
    ck_assert_int_eq(o.verbose, 0);
    sq_options_free(&o);

    /* The password may come from $PASSWD, as for mount.cifs. */
    setenv("PASSWD", "from-env", 1);
    unsetenv("USER");
    sq_options_init(&o);
    ck_assert_str_eq(o.password, "from-env");
    ck_assert_ptr_null(o.username);
    sq_options_free(&o);
    unsetenv("PASSWD");

    ck_assert_str_eq(sq_dialect_name(SMB2_DIALECT_0311), "3.1.1");
    ck_assert_str_eq(sq_dialect_name(SMB2_DIALECT_0302), "3.0.2");
    ck_assert_str_eq(sq_dialect_name(SMB2_DIALECT_0300), "3.0");
    ck_assert_str_eq(sq_dialect_name(0x1234), "unknown");
}
END_TEST

/* ---- UNC ------------------------------------------------------------------------------------ */

static void unc_ok(const char *unc, bool share_required, const char *server, const char *share,
                   const char *path)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert_msg(sq_options_parse_unc(&o, unc, share_required, why, sizeof(why)) == 0,
                  "'%s' refused: %s", unc, why);
    ck_assert_str_eq(o.server, server);
    if (share)
        ck_assert_str_eq(o.share, share);
    else
        ck_assert_ptr_null(o.share);
    ck_assert_str_eq(o.path, path);
    sq_options_free(&o);
}

static void unc_bad(const char *unc, bool share_required, const char *message)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert_int_eq(sq_options_parse_unc(&o, unc, share_required, why, sizeof(why)),
                     SQ_ERR_INVAL);
    assert_why_contains(message);
    ck_assert_ptr_null(o.server);
    ck_assert_ptr_null(o.share);
    sq_options_free(&o);
}

START_TEST(test_unc_forms)
{
    unc_ok("//srv/share", true, "srv", "share", "");
    unc_ok("//srv/share/", true, "srv", "share", "");
    unc_ok("//s/sh/a/b", true, "s", "sh", "a\\b");
    unc_ok("//s/sh//a///b/", true, "s", "sh", "a\\b");
    unc_ok("\\\\s\\sh\\a\\b", true, "s", "sh", "a\\b");
    unc_ok("//s\\sh/a\\b", true, "s", "sh", "a\\b");
    unc_ok("//files.example.com/Data Share/My Dir/x.txt", true, "files.example.com",
           "Data Share", "My Dir\\x.txt");
    unc_ok("//[fe80::1%eth0]/share/d", true, "fe80::1%eth0", "share", "d");
    unc_ok("//[2001:db8::1]/share", true, "2001:db8::1", "share", "");
    unc_ok("//[::1]", false, "::1", NULL, "");
    unc_ok("//srv", false, "srv", NULL, "");
    unc_ok("//srv/", false, "srv", NULL, "");
    unc_ok("//192.0.2.7/ipc$", true, "192.0.2.7", "ipc$", "");
}
END_TEST

START_TEST(test_unc_errors)
{
    unc_bad("srv/share", true, "is not of the form //SERVER/SHARE");
    unc_bad("/srv/share", true, "is not of the form");
    unc_bad("", true, "is not of the form");
    unc_bad("\\/srv/share", true, "is not of the form");
    unc_bad("//", true, "no server name");
    unc_bad("///share", true, "no server name");
    unc_bad("//srv", true, "no share name in '//srv'");
    unc_bad("//srv/", true, "no share name");
    unc_bad("//[::1", true, "unterminated '['");
    unc_bad("//[::1]x/share", true, "no server name"); /* junk after ']' */
    unc_bad("//[::1]:445/share", true, "no server name");
    unc_bad("//[]/share", true, "no server name");
    unc_bad("//[::1]", true, "no share name");
}
END_TEST

/* ---- -o option strings ---------------------------------------------------------------------- */

static void parse_ok(struct sq_options *o, const char *opts)
{
    ck_assert_msg(sq_options_parse(o, opts, why, sizeof(why)) == 0, "'%s' refused: %s", opts,
                  why);
}

static void parse_bad(const char *opts, const char *message)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert_msg(sq_options_parse(&o, opts, why, sizeof(why)) == SQ_ERR_INVAL,
                  "'%s' accepted", opts);
    if (message)
        assert_why_contains(message);
    sq_options_free(&o);
}

START_TEST(test_parse_all_options)
{
    struct sq_options o;
    opts_init(&o);
    parse_ok(&o, "port=8445,transport=tcp,username=bob,domain=CORP,password=s3cret,sign,seal,"
                 "guest,sec=krb5,vers=3.0.2,verbose,verbose");
    ck_assert_uint_eq(o.port, 8445);
    ck_assert_int_eq(o.transport, SQ_TRANSPORT_TCP);
    ck_assert_str_eq(o.username, "bob");
    ck_assert_str_eq(o.domain, "CORP");
    ck_assert_str_eq(o.password, "s3cret");
    ck_assert(o.sign);
    ck_assert(o.seal);
    ck_assert(o.guest);
    ck_assert_int_eq(o.sec, AUTH_MECH_KRB5);
    ck_assert_uint_eq(o.dialect, SMB2_DIALECT_0302);
    ck_assert_int_eq(o.verbose, 2);

    /* Aliases, and later values replace earlier ones (also across calls). */
    parse_ok(&o, "user=carol,dom=LAB,pass=other,transport=auto");
    ck_assert_str_eq(o.username, "carol");
    ck_assert_str_eq(o.domain, "LAB");
    ck_assert_str_eq(o.password, "other");
    ck_assert_int_eq(o.transport, SQ_TRANSPORT_AUTO);
    parse_ok(&o, "workgroup=WG,transport=quic,password=");
    ck_assert_str_eq(o.domain, "WG");
    ck_assert_int_eq(o.transport, SQ_TRANSPORT_QUIC);
    ck_assert_str_eq(o.password, "");
    /* A password may contain '=' (only the first one splits). */
    parse_ok(&o, "password=a=b==c");
    ck_assert_str_eq(o.password, "a=b==c");
    /* Empty items are skipped. */
    parse_ok(&o, ",,verbose,,");
    ck_assert_int_eq(o.verbose, 3);
    parse_ok(&o, "");
    sq_options_free(&o);
}
END_TEST

START_TEST(test_parse_sec_and_vers)
{
    static const struct {
        const char *opt;
        enum auth_mech_pref sec;
    } secs[] = {{"sec=krb5", AUTH_MECH_KRB5},       {"sec=krb5i", AUTH_MECH_KRB5},
                {"sec=ntlmssp", AUTH_MECH_NTLMSSP}, {"sec=ntlmsspi", AUTH_MECH_NTLMSSP},
                {"sec=ntlmv2", AUTH_MECH_NTLMSSP}};
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        struct sq_options o;
        opts_init(&o);
        parse_ok(&o, secs[i].opt);
        ck_assert_int_eq(o.sec, secs[i].sec);
        sq_options_free(&o);
    }
    static const struct {
        const char *opt;
        uint16_t dialect;
    } vers[] = {{"vers=3.1.1", SMB2_DIALECT_0311}, {"vers=3.11", SMB2_DIALECT_0311},
                {"vers=3.0.2", SMB2_DIALECT_0302}, {"vers=3.02", SMB2_DIALECT_0302},
                {"vers=3.0", SMB2_DIALECT_0300},   {"vers=3", SMB2_DIALECT_0300}};
    for (size_t i = 0; i < sizeof(vers) / sizeof(vers[0]); i++) {
        struct sq_options o;
        opts_init(&o);
        if (i == 0)
            parse_ok(&o, "vers=3.0"); /* so that 3.1.1 has to be set, not just kept */
        parse_ok(&o, vers[i].opt);
        ck_assert_uint_eq(o.dialect, vers[i].dialect);
        sq_options_free(&o);
    }
    parse_bad("sec=none", "bad sec 'none'");
    parse_bad("sec=ntlm", "bad sec 'ntlm'");
    parse_bad("vers=1.0", "unsupported vers '1.0'");
    parse_bad("vers=2.1", "unsupported vers '2.1'");
    parse_bad("vers=2.0", "unsupported vers");
    parse_bad("vers=3.1", "unsupported vers '3.1'");
    parse_bad("vers=default", "unsupported vers");
}
END_TEST

START_TEST(test_parse_port_and_transport)
{
    static const struct {
        const char *opt;
        uint16_t port;
    } good[] = {{"port=1", 1}, {"port=445", 445}, {"port=65535", 65535}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sq_options o;
        opts_init(&o);
        parse_ok(&o, good[i].opt);
        ck_assert_uint_eq(o.port, good[i].port);
        sq_options_free(&o);
    }
    parse_bad("port=0", "bad port '0'");
    parse_bad("port=65536", "bad port '65536'");
    parse_bad("port=-1", "bad port '-1'");
    parse_bad("port=44x", "bad port '44x'");
    parse_bad("port=", "bad port ''");
    parse_bad("port=99999999999999999999999", "bad port");
    parse_bad("port", "option 'port' needs a value");
    parse_bad("transport=udp", "bad transport 'udp' (quic, tcp or auto)");
    parse_bad("transport=", "bad transport");
    parse_bad("transport", "option 'transport' needs a value");
}
END_TEST

START_TEST(test_parse_errors)
{
    parse_bad("frobnicate", "unknown option 'frobnicate'");
    parse_bad("sign,nosuch=1,seal", "unknown option 'nosuch'");
    parse_bad("domain", "option 'domain' needs a value");
    parse_bad("password", "option 'password' needs a value");
    parse_bad("sec", "option 'sec' needs a value");
    parse_bad("vers", "option 'vers' needs a value");
    parse_bad("credentials", "option 'credentials' needs a value");
    parse_bad("username", NULL);
    /* Parsing stops at the first bad option. */
    struct sq_options o;
    opts_init(&o);
    ck_assert_int_eq(sq_options_parse(&o, "sign,bogus,seal", why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert(o.sign);
    ck_assert(!o.seal);
    sq_options_free(&o);
}
END_TEST

START_TEST(test_parse_quic_options)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert_ptr_null(o.servername);
    ck_assert(!o.has_pin && !o.quic_tls_only);
    parse_ok(&o, "servername=files.example.com,cafile=/etc/ca.pem,cert=/c.pem,key=/k.pem,"
                 "quic_tls_only");
    ck_assert_str_eq(o.servername, "files.example.com");
    ck_assert_str_eq(o.cafile, "/etc/ca.pem");
    ck_assert_str_eq(o.cert, "/c.pem");
    ck_assert_str_eq(o.key, "/k.pem");
    ck_assert(o.quic_tls_only);
    ck_assert(!o.has_pin);

    /* pin=sha256:HEX, 64 digits, either case, colons between bytes allowed. */
    uint8_t want[32];
    char hex[65], colons[96];
    size_t k = 0;
    for (int i = 0; i < 32; i++) {
        want[i] = (uint8_t)(0x0f + i * 7);
        snprintf(hex + 2 * i, 3, "%02x", want[i]);
        k += (size_t)snprintf(colons + k, sizeof(colons) - k, i ? ":%02X" : "%02X", want[i]);
    }
    char opt[160];
    snprintf(opt, sizeof(opt), "pin=sha256:%s", hex);
    parse_ok(&o, opt);
    ck_assert(o.has_pin);
    ck_assert_mem_eq(o.pin, want, 32);
    sq_options_free(&o);
    opts_init(&o);
    snprintf(opt, sizeof(opt), "pin=SHA256:%s", colons);
    parse_ok(&o, opt);
    ck_assert(o.has_pin);
    ck_assert(!o.pin_spki);
    ck_assert_mem_eq(o.pin, want, 32);
    sq_options_free(&o);
    /* The public key's pin (pin=spki-sha256:). */
    opts_init(&o);
    snprintf(opt, sizeof(opt), "pin=spki-sha256:%s", colons);
    parse_ok(&o, opt);
    ck_assert(o.has_pin);
    ck_assert(o.pin_spki);
    ck_assert_mem_eq(o.pin, want, 32);
    sq_options_free(&o);

    snprintf(opt, sizeof(opt), "pin=sha256:%.62s", hex); /* 31 bytes */
    parse_bad(opt, "bad pin");
    snprintf(opt, sizeof(opt), "pin=sha256:%s00", hex); /* 33 bytes */
    parse_bad(opt, "expected sha256: or spki-sha256: and 64 hex digits");
    snprintf(opt, sizeof(opt), "pin=spki-sha1:%s", hex);
    parse_bad(opt, "bad pin 'spki-sha1:");
    snprintf(opt, sizeof(opt), "pin=sha256:%.63sg", hex);
    parse_bad(opt, "bad pin");
    snprintf(opt, sizeof(opt), "pin=sha1:%s", hex);
    parse_bad(opt, "bad pin 'sha1:");
    snprintf(opt, sizeof(opt), "pin=%s", hex);
    parse_bad(opt, "bad pin");
    parse_bad("pin=sha256:", "bad pin");
    parse_bad("pin", "option 'pin' needs a value");
    parse_bad("servername", "option 'servername' needs a value");
    parse_bad("cafile", "option 'cafile' needs a value");
    parse_bad("cert", "option 'cert' needs a value");
    parse_bad("key", "option 'key' needs a value");
}
END_TEST

START_TEST(test_parse_mount_only_options)
{
    struct sq_options o;
    opts_init(&o);
    parse_ok(&o, "_netdev,nofail,auto,noauto,user,users,defaults,nouser,x-systemd.automount,"
                 "x-systemd.idle-timeout=60");
    /* None of them changed anything; `user` without a value is mount(8)'s flag. */
    ck_assert_str_eq(o.username, "alice");
    ck_assert_uint_eq(o.port, 0);
    ck_assert_int_eq(o.transport, SQ_TRANSPORT_QUIC);
    ck_assert(!o.sign && !o.seal && !o.guest);
    ck_assert_int_eq(o.verbose, 0);
    sq_options_free(&o);
}
END_TEST

/* ---- mount.smbquic's options (struct sq_mount_options) ------------------------------------- */

/* Fresh options as mount.smbquic sets them up. */
static void mount_opts_init(struct sq_options *o)
{
    opts_init(o);
    o->mount.enabled = true;
}

static void mount_parse_bad(const char *opts, const char *message)
{
    struct sq_options o;
    mount_opts_init(&o);
    ck_assert_msg(sq_options_parse(&o, opts, why, sizeof(why)) == SQ_ERR_INVAL, "'%s' accepted",
                  opts);
    assert_why_contains(message);
    sq_options_free(&o);
}

START_TEST(test_mount_defaults)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert(!o.mount.enabled && !o.mount.sloppy);
    ck_assert_uint_eq(o.mount.uid, getuid());
    ck_assert_uint_eq(o.mount.gid, getgid());
    ck_assert_uint_eq(o.mount.file_mode, 0644);
    ck_assert_uint_eq(o.mount.dir_mode, 0755);
    ck_assert(!o.mount.read_only && !o.mount.allow_other && !o.mount.hard);
    ck_assert(!o.mount.noexec && !o.mount.foreground);
    ck_assert_int_eq(o.mount.cache, SQ_CACHE_STRICT);
    ck_assert(o.mount.actimeo == 1.0);
    ck_assert_uint_eq(o.mount.echo_interval, 60);
    ck_assert_uint_eq(o.mount.closetimeo, 1);
    sq_options_free(&o);
}
END_TEST

START_TEST(test_mount_options)
{
    struct sq_options o;
    mount_opts_init(&o);
    parse_ok(&o, "uid=1234,gid=4321,file_mode=0600,dir_mode=700,ro,allow_other,cache=none,"
                 "actimeo=30,hard,echo_interval=600,noexec,foreground,forceuid,forcegid");
    ck_assert_uint_eq(o.mount.uid, 1234);
    ck_assert_uint_eq(o.mount.gid, 4321);
    ck_assert_uint_eq(o.mount.file_mode, 0600);
    ck_assert_uint_eq(o.mount.dir_mode, 0700);
    ck_assert(o.mount.read_only && o.mount.allow_other && o.mount.hard);
    ck_assert(o.mount.noexec && o.mount.foreground);
    ck_assert_int_eq(o.mount.cache, SQ_CACHE_NONE);
    ck_assert(o.mount.actimeo == 30.0);
    ck_assert_uint_eq(o.mount.echo_interval, 600);
    /* Later options win: what mount(8) relies on when it puts fstab's options first. */
    parse_ok(&o, "rw,soft,exec,cache=loose,actimeo=0.5,file_mode=7777,dir_mode=0");
    ck_assert(!o.mount.read_only && !o.mount.hard && !o.mount.noexec);
    ck_assert_int_eq(o.mount.cache, SQ_CACHE_LOOSE);
    ck_assert(o.mount.actimeo == 0.5);
    ck_assert_uint_eq(o.mount.file_mode, 07777);
    ck_assert_uint_eq(o.mount.dir_mode, 0);
    parse_ok(&o, "cache=strict,actimeo=0,echo_interval=1,closetimeo=0");
    ck_assert_int_eq(o.mount.cache, SQ_CACHE_STRICT);
    ck_assert(o.mount.actimeo == 0.0);
    ck_assert_uint_eq(o.mount.echo_interval, 1);
    ck_assert_uint_eq(o.mount.closetimeo, 0);
    parse_ok(&o, "closetimeo=3600");
    ck_assert_uint_eq(o.mount.closetimeo, 3600);
    /* Names as well as numbers, as for mount.cifs. */
    parse_ok(&o, "uid=root,gid=root");
    ck_assert_uint_eq(o.mount.uid, 0);
    ck_assert_uint_eq(o.mount.gid, 0);
    /* None of them touched the connection options. */
    ck_assert_str_eq(o.username, "alice");
    ck_assert_int_eq(o.transport, SQ_TRANSPORT_QUIC);
    sq_options_free(&o);
}
END_TEST

START_TEST(test_mount_vfs_flags)
{
    /* What mount(8) passes to every helper (rw always; noexec,nosuid,nodev for `user` fstab
     * lines; exec,suid,dev with user=NAME): accepted; only noexec and ro change anything. */
    struct sq_options o;
    mount_opts_init(&o);
    parse_ok(&o, "rw,noexec,nosuid,nodev,user,users,nouser,exec,suid,dev,async,atime,noatime,"
                 "diratime,nodiratime,relatime,norelatime,strictatime,nostrictatime,lazytime,"
                 "nolazytime,iversion,noiversion,nomand,silent,loud,_netdev,nofail,defaults,"
                 "x-systemd.automount");
    ck_assert(!o.mount.noexec && !o.mount.read_only);
    parse_ok(&o, "ro,noexec");
    ck_assert(o.mount.noexec && o.mount.read_only);
    sq_options_free(&o);

    mount_parse_bad("sync", "option 'sync' is not supported (cache=none writes through)");
    mount_parse_bad("dirsync", "option 'dirsync' is not supported");
    mount_parse_bad("mand", "option 'mand' is not supported");
    mount_parse_bad("remount,ro", "remount is not supported: unmount and mount again");
}
END_TEST

START_TEST(test_mount_option_errors)
{
    mount_parse_bad("uid=", "option 'uid' needs a value");
    mount_parse_bad("uid", "option 'uid' needs a value");
    mount_parse_bad("gid", "option 'gid' needs a value");
    mount_parse_bad("uid=-1", "bad uid '-1'");
    mount_parse_bad("uid=4294967295", "bad uid '4294967295'");
    mount_parse_bad("uid=12x", "bad uid '12x'");
    mount_parse_bad("uid=no-such-user-sq", "bad uid 'no-such-user-sq' (no such user)");
    mount_parse_bad("gid=no-such-group-sq", "bad gid 'no-such-group-sq' (no such group)");
    mount_parse_bad("file_mode=0888", "bad file_mode '0888' (an octal mode such as 0644)");
    mount_parse_bad("file_mode=10000", "bad file_mode '10000'");
    mount_parse_bad("dir_mode=-755", "bad dir_mode '-755'");
    mount_parse_bad("dir_mode=", "option 'dir_mode' needs a value");
    mount_parse_bad("cache=always", "bad cache 'always' (strict, loose or none)");
    mount_parse_bad("cache", "option 'cache' needs a value");
    mount_parse_bad("actimeo=-1", "bad actimeo '-1' (seconds, 0 to 2160000)");
    mount_parse_bad("actimeo=1e3", "bad actimeo '1e3'");
    mount_parse_bad("actimeo=inf", "bad actimeo 'inf'");
    mount_parse_bad("actimeo=nan", "bad actimeo 'nan'");
    mount_parse_bad("actimeo=0x10", "bad actimeo '0x10'");
    mount_parse_bad("actimeo=.", "bad actimeo '.'");
    mount_parse_bad("actimeo=2160001", "bad actimeo '2160001'");
    mount_parse_bad("echo_interval=0", "bad echo_interval '0' (seconds, 1 to 600)");
    mount_parse_bad("echo_interval=601", "bad echo_interval '601'");
    mount_parse_bad("closetimeo=3601", "bad closetimeo '3601' (seconds, 0 to 3600)");
    mount_parse_bad("closetimeo=-1", "bad closetimeo '-1'");
    mount_parse_bad("closetimeo", "option 'closetimeo' needs a value");
    mount_parse_bad("ro=1", "option 'ro' takes no value");
    mount_parse_bad("allow_other=yes", "option 'allow_other' takes no value");
    mount_parse_bad("hard=1", "option 'hard' takes no value");
    mount_parse_bad("bogus_mount_option", "unknown option 'bogus_mount_option'");

    /* The CLI (mount.enabled false) refuses mount options and mount-time VFS flags. */
    parse_bad("uid=5", "option 'uid' is a mount option (see mount.smbquic(8))");
    parse_bad("ro", "option 'ro' is a mount option");
    parse_bad("cache=none", "option 'cache' is a mount option");
    parse_bad("foreground", "option 'foreground' is a mount option");
    parse_bad("noatime", "unknown option 'noatime'");
}
END_TEST

START_TEST(test_mount_sloppy)
{
    /* mount -s: unknown options are skipped; bad values of known ones still fail. */
    struct sq_options o;
    mount_opts_init(&o);
    o.mount.sloppy = true;
    parse_ok(&o, "rsize=65536,ro,nosuchthing,uid=7");
    ck_assert(o.mount.read_only);
    ck_assert_uint_eq(o.mount.uid, 7);
    ck_assert_int_eq(sq_options_parse(&o, "uid=x-no-such-user", why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert_int_eq(sq_options_parse(&o, "port=0", why, sizeof(why)), SQ_ERR_INVAL);
    sq_options_free(&o);
    /* Sloppy means nothing to the CLI. */
    opts_init(&o);
    o.mount.sloppy = true;
    ck_assert_int_eq(sq_options_parse(&o, "nosuchthing", why, sizeof(why)), SQ_ERR_INVAL);
    sq_options_free(&o);
}
END_TEST

/* ---- credentials files ---------------------------------------------------------------------- */

static char tmpdir[64];

static void tmpdir_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sq-options-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* Writes a credentials file with the given mode and returns its path (static buffer). */
static const char *cred_file(const char *name, const char *content, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(content, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(test_credentials_read)
{
    tmpdir_setup();
    const char *path = cred_file("ok", "# a comment\n\nusername=dave\npassword=p=w,d\r\n"
                                       "  domain=EXAMPLE\n",
                                 0600);
    struct sq_options o;
    opts_init(&o);
    ck_assert_msg(sq_options_read_credentials(&o, path, why, sizeof(why)) == 0, "%s", why);
    ck_assert_str_eq(o.username, "dave");
    ck_assert_str_eq(o.password, "p=w,d");
    ck_assert_str_eq(o.domain, "EXAMPLE");
    sq_options_free(&o);

    /* Aliases, and read-only for the owner is fine too. */
    path = cred_file("aliases", "user=erin\npass=x\ndom=D\n", 0400);
    opts_init(&o);
    ck_assert_int_eq(sq_options_read_credentials(&o, path, why, sizeof(why)), 0);
    ck_assert_str_eq(o.username, "erin");
    ck_assert_str_eq(o.password, "x");
    ck_assert_str_eq(o.domain, "D");
    sq_options_free(&o);

    /* Through -o credentials= / cred=, with later options overriding. */
    path = cred_file("viaopt", "username=frank\npassword=pw\n", 0600);
    char opts[256];
    snprintf(opts, sizeof(opts), "cred=%s,username=gina", path);
    opts_init(&o);
    parse_ok(&o, opts);
    ck_assert_str_eq(o.username, "gina");
    ck_assert_str_eq(o.password, "pw");
    sq_options_free(&o);
    tmpdir_teardown();
}
END_TEST

START_TEST(test_credentials_refused)
{
    tmpdir_setup();
    static const struct {
        mode_t mode;
        const char *shown;
    } modes[] = {{0644, "(mode 0644)"}, {0640, "(mode 0640)"}, {0604, "(mode 0604)"},
                 {0620, "(mode 0620)"}, {0602, "(mode 0602)"}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        const char *path = cred_file("open", "username=x\npassword=leak\n", modes[i].mode);
        struct sq_options o;
        opts_init(&o);
        ck_assert_int_eq(sq_options_read_credentials(&o, path, why, sizeof(why)),
                         SQ_ERR_INVAL);
        assert_why_contains("readable or writable by group or others");
        assert_why_contains(modes[i].shown);
        assert_why_contains("chmod 600");
        ck_assert_str_eq(o.username, "alice"); /* nothing was read */
        ck_assert_ptr_null(o.password);
        sq_options_free(&o);
    }

    struct sq_options o;
    const char *path = cred_file("unknown", "username=x\ncolour=blue\n", 0600);
    opts_init(&o);
    ck_assert_int_eq(sq_options_read_credentials(&o, path, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("unknown key 'colour'");
    sq_options_free(&o);

    path = cred_file("noeq", "username\n", 0600);
    opts_init(&o);
    ck_assert_int_eq(sq_options_read_credentials(&o, path, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("line without '='");
    sq_options_free(&o);

    char missing[128];
    snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
    opts_init(&o);
    ck_assert_int_eq(sq_options_read_credentials(&o, missing, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("cannot open credentials file");
    sq_options_free(&o);

    opts_init(&o);
    ck_assert_int_eq(sq_options_read_credentials(&o, tmpdir, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("is not a regular file");
    sq_options_free(&o);

    /* The -o path reports the file's problem. */
    path = cred_file("open2", "username=x\n", 0644);
    char opts[256];
    snprintf(opts, sizeof(opts), "sign,credentials=%s", path);
    opts_init(&o);
    ck_assert_int_eq(sq_options_parse(&o, opts, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("chmod 600");
    sq_options_free(&o);
    tmpdir_teardown();
}
END_TEST

/* ---- validation ----------------------------------------------------------------------------- */

START_TEST(test_validate)
{
    struct sq_options o;
    opts_init(&o);
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("no server given");
    ck_assert_int_eq(sq_options_parse_unc(&o, "//srv/share", true, why, sizeof(why)), 0);
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);

    parse_ok(&o, "vers=3.0.2");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert_str_eq(why, "vers=3.0.2 is only allowed with transport=tcp");
    parse_ok(&o, "transport=auto");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    parse_ok(&o, "transport=tcp");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);
    parse_ok(&o, "vers=3.0");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);
    parse_ok(&o, "transport=quic");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert_str_eq(why, "vers=3.0 is only allowed with transport=tcp");
    parse_ok(&o, "vers=3.1.1");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);

    /* A client certificate needs its key, and the other way round. */
    parse_ok(&o, "cert=/c.pem");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert_str_eq(why, "a client certificate needs both cert= and key=");
    parse_ok(&o, "key=/k.pem");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);

    /* quic_tls_only means nothing over TCP: refused there, fine over QUIC and auto. */
    parse_ok(&o, "quic_tls_only");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);
    parse_ok(&o, "transport=auto");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), 0);
    parse_ok(&o, "transport=tcp");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert_str_eq(why, "quic_tls_only applies only to SMB over QUIC, not transport=tcp");
    sq_options_free(&o);
    opts_init(&o);
    ck_assert_int_eq(sq_options_parse_unc(&o, "//srv/share", true, why, sizeof(why)), 0);
    parse_ok(&o, "key=/k.pem");
    ck_assert_int_eq(sq_options_validate(&o, why, sizeof(why)), SQ_ERR_INVAL);
    assert_why_contains("needs both cert= and key=");
    sq_options_free(&o);
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_unc_forms);
    tcase_add_test(tc, test_unc_errors);
    tcase_add_test(tc, test_parse_all_options);
    tcase_add_test(tc, test_parse_sec_and_vers);
    tcase_add_test(tc, test_parse_port_and_transport);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_parse_quic_options);
    tcase_add_test(tc, test_parse_mount_only_options);
    tcase_add_test(tc, test_mount_defaults);
    tcase_add_test(tc, test_mount_options);
    tcase_add_test(tc, test_mount_vfs_flags);
    tcase_add_test(tc, test_mount_option_errors);
    tcase_add_test(tc, test_mount_sloppy);
    tcase_add_test(tc, test_credentials_read);
    tcase_add_test(tc, test_credentials_refused);
    tcase_add_test(tc, test_validate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(options_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
