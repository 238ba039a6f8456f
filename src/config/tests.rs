use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_with_file(toml: &str, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut file, toml.as_bytes()).expect("write");
    Settings::load_from(Some(file.path()), env(pairs))
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    load_with_file("", pairs)
}

#[test]
fn file_then_environment() {
    let toml =
        "data_dir = \"/srv/chat\"\n[auth]\nbcrypt_cost = 10\n[ws]\nbind = \"0.0.0.0:9000\"\n";
    let s = load_with_file(toml, &[("CHATAPP__AUTH__BCRYPT_COST", "11")]).expect("loads");
    assert_eq!(s.data_dir, PathBuf::from("/srv/chat"));
    assert_eq!(s.auth.bcrypt_cost, 11);
    assert_eq!(s.ws.bind, "0.0.0.0:9000");
    let e = load_with_file("[auth]\nbcrypt_cost = \"high\"\n", &[])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("auth.bcrypt_cost"), "{e}");
    let missing = Settings::load_from(Some(Path::new("/nonexistent/chatapp.toml")), env(&[]));
    assert!(missing.is_err());
}

#[test]
fn defaults_need_nothing() {
    let s = load(&[]).expect("defaults load");
    assert_eq!(s.auth.bcrypt_cost, 12);
    assert_eq!(s.all.bind, "127.0.0.1:8080");
    assert_eq!(
        s.database_url().redacted(),
        format!(
            "sqlite://{}",
            Path::new("data").join("chatapp.db").display()
        )
    );
}

#[test]
fn environment_overrides_and_database_url() {
    let s = load(&[
        ("CHATAPP__AUTH__BCRYPT_COST", "4"),
        ("CHATAPP__DATA_DIR", "/tmp/x"),
        ("DATABASE_URL", "postgres://u:p@h/db"),
    ])
    .expect("loads");
    assert_eq!(s.auth.bcrypt_cost, 4);
    assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(s.database_url().redacted(), "postgres://h/db");

    let s = load(&[
        ("CHATAPP__DATABASE__URL", "sqlite:///tmp/a.db"),
        ("DATABASE_URL", "postgres://u:p@h/db"),
    ])
    .expect("loads");
    assert_eq!(s.database_url().redacted(), "sqlite:///tmp/a.db");
}

#[test]
fn wrong_values_name_their_key() {
    let e = load(&[("CHATAPP__AUTH__BCRYPT_COST", "3")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("auth.bcrypt_cost"), "{e}");
    let e = load(&[("CHATAPP__AUTH__BCRYPT_COST", "lots")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("auth.bcrypt_cost"), "{e}");
    let e = load(&[("CHATAPP__WS__BIND", "nowhere")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("ws.bind"), "{e}");
    let e = load(&[("CHATAPP__DATABASE__URL", "mysql://root:pw@h/db")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("database.url"), "{e}");
    assert!(!e.to_string().contains("pw"), "{e}");
    let e = load(&[("CHATAPP__DATABSE__URL", "x")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("databse"), "{e}");
    let e = load(&[("CHATAPP__BUS__PRESENCE_TTL_SECS", "0")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("bus.presence_ttl_secs"), "{e}");
    for lanes in ["0", "65"] {
        let e = load(&[("CHATAPP__WS__SAVE_LANES", lanes)])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("ws.save_lanes"), "{e}");
    }
    let s = load(&[("CHATAPP__WS__SAVE_LANES", "2")]).expect("two lanes");
    assert_eq!(s.ws.save_lanes, 2);
}

#[test]
fn lists_and_numeric_strings_from_the_environment() {
    let s = load(&[
        ("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1,::1"),
        ("CHATAPP__INTERNAL__TOKEN", "12345678901234567890"),
    ])
    .expect("loads");
    assert_eq!(s.http.trusted_proxies.len(), 2);
    assert_eq!(
        s.internal
            .token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("12345678901234567890".into())
    );
    let e = load(&[("CHATAPP__HTTP__TRUSTED_PROXIES", "nginx")])
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("trusted_proxies"), "{e}");
}

#[test]
fn push_settings() {
    let s = load(&[
        ("CHATAPP__PUSH__SUBJECT", "mailto:ops@example.com"),
        (
            "CHATAPP__PUSH__ALLOWED_HOSTS",
            "push.example.net, fcm.googleapis.com",
        ),
        ("CHATAPP__PUSH__ATTEMPTS", "2"),
    ])
    .expect("loads");
    assert_eq!(
        s.push.allowed_hosts,
        ["push.example.net", "fcm.googleapis.com"]
    );
    assert_eq!(s.push.attempts, 2);
    assert!(!Settings::default().push.allow_http);
    for (key, value, named) in [
        ("CHATAPP__PUSH__SUBJECT", "ops@example.com", "push.subject"),
        (
            "CHATAPP__PUSH__SUBJECT",
            "http://example.com",
            "push.subject",
        ),
        ("CHATAPP__PUSH__QUEUE", "0", "push.queue"),
        ("CHATAPP__PUSH__ATTEMPTS", "0", "push.attempts"),
        ("CHATAPP__PUSH__ATTEMPTS", "21", "push.attempts"),
        ("CHATAPP__PUSH__TTL_SECS", "2419201", "push.ttl_secs"),
        (
            "CHATAPP__PUSH__ALLOWED_HOSTS",
            "https://push.example.net",
            "push.allowed_hosts",
        ),
    ] {
        let e = load(&[(key, value)]).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains(named), "{key}={value}: {e}");
    }
}

#[test]
fn secrets_do_not_print() {
    let s = load(&[
        ("CHATAPP__INTERNAL__TOKEN", "very-secret-service-token"),
        ("DATABASE_URL", "postgres://u:hunter2@h/db"),
    ])
    .expect("loads");
    let shown = format!("{s:?}");
    assert!(!shown.contains("very-secret-service-token"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
