//! A real server on a free loopback port, over a throwaway database of either engine,
//! and plain HTTP clients: anonymous, with an API token, or with a logged-in session.

#![allow(dead_code)]

use dantoc_domain::access::Role;
use dantoc_store::accounts::{self, UserInput};
use dantoc_store::audit::Actor;
use dantoc_store::testing::TestDb;
use serde_json::Value;

pub const PASSWORD: &str = "Kiểm-thử-2025";

pub struct Server {
    pub base: String,
    pub db: TestDb,
    /// An administrator with a read-write token.
    pub admin: Client,
    pub anon: Client,
}

#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn cipher() -> dantoc_store::personal::Cipher {
    dantoc_store::personal::Cipher::from_key_hex(&"5a".repeat(32), "tests").expect("key")
}

pub fn start(db: TestDb) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let handle = db.db.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            let config = dantoc_web::state::ServerConfig {
                bind: Some(addr),
                secure_cookies: false,
            };
            dantoc_web::serve_on(l, handle, config, cipher())
                .await
                .expect("serve");
        });
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let base = format!("http://{addr}");
    let anon = Client {
        base: base.clone(),
        agent,
        headers: vec![],
    };
    let mut s = Server {
        base,
        db,
        admin: anon.clone(),
        anon,
    };
    s.admin = s.token_client("tester", Role::Admin, &[], true);
    s
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("HTTP exchange");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

impl Client {
    pub fn with_header(&self, k: &str, v: &str) -> Client {
        let mut c = self.clone();
        c.headers.push((k.into(), v.into()));
        c
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn req<B>(&self, mut r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        for (k, v) in &self.headers {
            r = r.header(k, v);
        }
        r
    }
    pub fn get(&self, path: &str) -> Reply {
        reply(self.req(self.agent.get(&self.url(path))).call())
    }
    /// The body of a GET as bytes (files such as xlsx); panics unless the answer is 200.
    pub fn get_bytes(&self, path: &str) -> Vec<u8> {
        let mut r = self
            .req(self.agent.get(&self.url(path)))
            .call()
            .expect("HTTP exchange");
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.body_mut().read_to_vec().expect("body")
    }
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Reply {
        reply(
            self.req(self.agent.post(&self.url(path)))
                .header("Content-Type", content_type)
                .send(body),
        )
    }
    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post(path, "application/json", &body.to_string())
    }
    /// POST a file's bytes as the body (xlsx uploads).
    pub fn post_bytes(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        reply(
            self.req(self.agent.post(&self.url(path)))
                .header("Content-Type", content_type)
                .send(body),
        )
    }
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.post(path, "application/x-www-form-urlencoded", &body)
    }
    pub fn put_json(&self, path: &str, body: &Value) -> Reply {
        reply(
            self.req(self.agent.put(&self.url(path)))
                .header("Content-Type", "application/json")
                .send(body.to_string()),
        )
    }
    pub fn delete(&self, path: &str) -> Reply {
        reply(self.req(self.agent.delete(&self.url(path))).call())
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    // the administrator's client, for brevity
    pub fn get(&self, path: &str) -> Reply {
        self.admin.get(path)
    }
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Reply {
        self.admin.post(path, content_type, body)
    }
    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.admin.post_json(path, body)
    }
    pub fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.admin.put_json(path, body)
    }
    pub fn delete(&self, path: &str) -> Reply {
        self.admin.delete(path)
    }
    pub fn count_values(&self) -> i64 {
        self.db.read(dantoc_store::values::count).expect("count")
    }

    /// Create an account (password [`PASSWORD`]) directly in the store.
    pub fn user(&self, name: &str, role: Role, scopes: &[&str]) {
        let hash = accounts::hash_password(PASSWORD).expect("hash");
        let input = UserInput {
            username: name.into(),
            full_name: name.into(),
            role: Some(role),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            active: true,
            ..Default::default()
        };
        self.db
            .write(|c| accounts::create(c, &input, Some(&hash)))
            .expect("user");
    }

    /// A client with an API token of a new account.
    pub fn token_client(&self, name: &str, role: Role, scopes: &[&str], write: bool) -> Client {
        self.user(name, role, scopes);
        let secret = self
            .db
            .write(|c| {
                let u = accounts::get(c, name)?.expect("user");
                let (secret, _) = accounts::create_token(c, &u, "tests", write, None, &[])?;
                dantoc_store::audit::record(
                    c,
                    &Actor::system(),
                    "create",
                    "api_token",
                    name,
                    None,
                    None,
                )?;
                Ok(secret)
            })
            .expect("token");
        self.anon
            .with_header("Authorization", &format!("Bearer {secret}"))
    }

    /// Log in through the API; the client carries the session cookie and the CSRF header.
    pub fn login(&self, name: &str, password: &str) -> (Reply, Option<Client>) {
        let r = self.anon.post_json(
            "/api/auth/login",
            &serde_json::json!({"username": name, "password": password}),
        );
        if r.status != 200 {
            return (r, None);
        }
        let cookie = r
            .headers_named("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("dantoc_session="))
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_string();
        let csrf = r.json()["csrfToken"].as_str().expect("csrf").to_string();
        let c = self
            .anon
            .with_header("Cookie", &cookie)
            .with_header("X-CSRF-Token", &csrf);
        (r, Some(c))
    }
}

/// The reporting form `DTTS_ANNUAL` (0101 by ethnic group and sex, x-cnscd-to, x-dtts-share)
/// that the tests' DHIS2 payloads name as their `dataSet`.
#[allow(dead_code)]
pub fn annual_form(s: &Server) {
    let r = s.admin.put_json(
        "/api/forms/DTTS_ANNUAL",
        &serde_json::json!({
            "code": "DTTS_ANNUAL", "name_vi": "Biểu năm (thử nghiệm DHIS2)", "period_type": "yearly",
            "level": "commune", "deadline_days": 15,
            "sections": [{"title_vi": "Chỉ tiêu", "items": [
                {"indicator": "0101", "rows": "ethnic", "columns": "sex"},
                {"indicator": "x-cnscd-to"},
                {"indicator": "x-dtts-share"}
            ]}]
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}
