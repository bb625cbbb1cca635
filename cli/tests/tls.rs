//! The programs over TLS: `ws6455 echo` serving `wss://` with the files
//! `ws6455 cert` makes, and `ws6455 client` trusting them with `--ca`
//! (or, with `--insecure`, anything).

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{start_ws6455, test_both_echoes};

/// A self-signed certificate for localhost, made by `ws6455 cert` in a
/// fresh folder named after `test`: (certificate file, key file).
fn certificate(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ws6455-cli-tls-{}-{test}", std::process::id()));
    let made = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(["cert", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

test_both_echoes!(
    the_echo_command_serves_wss_and_the_client_command_trusts_ca_on =>
    the_echo_command_serves_wss_and_the_client_command_trusts_ca,
    the_echo_command_serves_wss_and_the_client_command_trusts_ca_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn the_echo_command_serves_wss_and_the_client_command_trusts_ca_on(flavour: &[&str]) {
    // A folder per flavour: the two tests run at once.
    let (cert_file, key_file) = certificate(&["echo", flavour.join("").as_str()].concat());
    let (cert, key) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
    let server = start_ws6455(
        &[
            &["echo"],
            flavour,
            &["--quiet", "--tls-cert", cert, "--tls-key", key],
        ]
        .concat(),
    );
    let url = format!("wss://localhost:{}/", server.addr.port());
    let run_client = |extra: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
            .args(["client", &url])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        child.wait_with_output().unwrap()
    };
    let trusted = run_client(&["--ca", cert]);
    assert!(trusted.status.success(), "{trusted:?}");
    assert_eq!(String::from_utf8_lossy(&trusted.stdout), "hello\n");
    let untrusted = run_client(&[]);
    assert!(!untrusted.status.success());
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    let insecure = run_client(&["--insecure"]);
    assert!(insecure.status.success(), "{insecure:?}");
    let stderr = String::from_utf8_lossy(&insecure.stderr);
    assert!(
        stderr.contains("--insecure: the server's certificate is not verified"),
        "{stderr}"
    );
}

#[test]
fn a_missing_or_unusable_certificate_file_is_a_startup_error_naming_it() {
    let (cert_file, _) = certificate("unusable");
    let cert = cert_file.to_str().unwrap();
    for (files, named) in [
        (
            ["/nonexistent/cert.pem", cert],
            "/nonexistent/cert.pem: no usable certificate",
        ),
        ([cert, cert], "no usable private key"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ws6455"))
            .args([
                "echo",
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                files[0],
                "--tls-key",
                files[1],
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
}
