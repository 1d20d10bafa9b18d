//! Password hashing: argon2id at OWASP's parameters, off the async workers, a few at a time.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// 19 MiB, 2 passes, 1 lane: OWASP's minimum for argon2id.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Passwords longer than this are refused before hashing (a cheap denial of service otherwise).
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes running at once: each takes 19 MiB, so a login flood queues instead of
/// growing memory.
const CONCURRENT: usize = 2;
/// Logins waiting for a hash beyond this are turned away at once.
const MAX_WAITING: usize = 64;

/// A password as typed: never printed.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// A password a new account may have: 8 characters to 1 KiB.
    pub fn new_choice(s: String) -> Result<Password, ApiError> {
        let p = Password::presented(s)?;
        if p.0.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ApiError::unprocessable(
                "password_too_short",
                format!("A password needs at least {MIN_PASSWORD_CHARS} characters."),
            )
            .with_field("password"));
        }
        Ok(p)
    }

    /// A password given at login: only its size is checked.
    pub fn presented(s: String) -> Result<Password, ApiError> {
        if s.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::unprocessable(
                "password_too_long",
                format!("A password may have at most {MAX_PASSWORD_BYTES} bytes."),
            )
            .with_field("password"));
        }
        Ok(Password(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string for a password (blocking: call it off the async workers).
pub fn hash_blocking(password: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether the password matches the stored PHC string (blocking). A damaged hash is a
/// mismatch. The parameters come from the stored string.
pub fn verify_blocking(password: &Password, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Runs hashes on the blocking pool, at most `CONCURRENT` at once.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher {
            permits: Arc::new(Semaphore::new(CONCURRENT)),
            waiting: Arc::default(),
        }
    }
}

impl Hasher {
    /// Checks `password` against `phc`, or against a hash of nothing when there is no
    /// account, so that an unknown user costs exactly as long as a wrong password.
    pub async fn verify(&self, password: Password, phc: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            let known = phc.is_some();
            let phc = phc.unwrap_or_else(|| decoy().to_owned());
            verify_blocking(&password, &phc) && known
        })
        .await
    }

    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(move || hash_blocking(&password))
            .await?
            .map_err(ApiError::internal)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        use std::sync::atomic::Ordering;
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _left = scopeguard(&self.waiting);
        if queued >= MAX_WAITING {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "too many logins are waiting for a password check"
            )));
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hasher closed: {e}")))?;
        Ok(actix_web::web::block(f).await?)
    }
}

/// Decrements the waiting count when a login leaves, however it leaves.
fn scopeguard(n: &Arc<std::sync::atomic::AtomicUsize>) -> impl Drop + '_ {
    struct Left<'a>(&'a std::sync::atomic::AtomicUsize);
    impl Drop for Left<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    Left(n)
}

/// A hash with the real parameters of a random password that was thrown away: checking
/// a login for an unknown user against it costs what a real check costs. A constant, so
/// that no hash is computed at start-up (19 MiB and a CPU burst a server that nobody
/// logs into would never need).
fn decoy() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$8OZDDGD9PqjuwuuUJA+sWA$vnPS/6s7qxDejATdUCUYLzryK3sdDTR3zUOZ/UQsCfU"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_owasp_parameters_and_verifies() {
        let p = Password::new_choice("correct horse".into()).unwrap();
        let h = hash_blocking(&p).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking(&p, &h));
        assert!(!verify_blocking(&Password("wrong horse".into()), &h));
        assert!(!verify_blocking(&p, "not a hash"));
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
    }

    #[test]
    fn the_decoy_costs_what_a_real_hash_costs() {
        assert!(decoy().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let h = Hasher::default();
        let p = Password::presented("anything at all".into()).unwrap();
        // No account: never a match, even for the decoy's own (unknown) password.
        assert!(!actix_web::rt::System::new()
            .block_on(h.verify(p, None))
            .unwrap());
    }

    #[test]
    fn at_most_two_hashes_run_at_once_and_a_flood_is_turned_away() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let h = Hasher::default();
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..MAX_WAITING + 8).map(|_| {
            let (now, most) = (Arc::clone(&now), Arc::clone(&most));
            h.run(move || {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                now.fetch_sub(1, Ordering::SeqCst);
            })
        });
        let answers = actix_web::rt::System::new().block_on(futures_util::future::join_all(jobs));
        assert_eq!(most.load(Ordering::SeqCst), CONCURRENT);
        let refused = answers.iter().filter(|a| a.is_err()).count();
        assert_eq!(refused, 8, "beyond {MAX_WAITING} waiting, turned away");
    }

    #[test]
    fn sizes_are_checked() {
        assert!(Password::new_choice("short".into()).is_err());
        assert!(Password::new_choice("x".repeat(1025)).is_err());
        assert!(Password::presented("x".repeat(1024)).is_ok());
        assert!(Password::presented("x".repeat(1025)).is_err());
    }
}
