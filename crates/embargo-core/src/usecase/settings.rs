//! The researcher's settings, changed through one set of rules both shells follow: the ranges
//! accepted, and the network configuration every request is made with.

use std::time::Duration;

use crate::net::{NetConfig, NetError};
use crate::store::{
    Role, Settings, Store, StoreError, Theme, MAX_AUTO_LOCK_MINUTES, MAX_NOTIFY_SECONDS,
    MAX_RETRY_SECONDS, MIN_NOTIFY_SECONDS,
};

/// Why a setting was not changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// An auto-lock time out of range.
    #[error("auto-lock after {minutes} minutes: choose 1 to {MAX_AUTO_LOCK_MINUTES}")]
    AutoLockOutOfRange {
        /// What was asked.
        minutes: u32,
    },
    /// A retry window out of range.
    #[error("retrying for {seconds} seconds: choose 1 to {MAX_RETRY_SECONDS}")]
    RetryOutOfRange {
        /// What was asked.
        seconds: u32,
    },
    /// A check interval out of range.
    #[error("checking every {seconds} seconds: choose {MIN_NOTIFY_SECONDS} to {MAX_NOTIFY_SECONDS}, or 0 to turn notifications off")]
    NotifyOutOfRange {
        /// What was asked.
        seconds: u32,
    },
    /// A proxy the HTTP client cannot use.
    #[error(transparent)]
    Proxy(#[from] NetError),
    /// The settings file could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn update(store: &Store, change: impl FnOnce(&mut Settings)) -> Result<Settings, SettingsError> {
    let mut s = store.settings()?;
    change(&mut s);
    store.save_settings(&s)?;
    Ok(s)
}

/// Sets the theme.
pub fn set_theme(store: &Store, theme: Theme) -> Result<Settings, SettingsError> {
    update(store, |s| s.theme = theme)
}

/// Sets what the app is used for (which screens it shows).
pub fn set_role(store: &Store, role: Role) -> Result<Settings, SettingsError> {
    update(store, |s| s.role = Some(role))
}

/// Sets the auto-lock time; out of range is refused, naming the range.
pub fn set_auto_lock(store: &Store, minutes: u32) -> Result<Settings, SettingsError> {
    if !(1..=MAX_AUTO_LOCK_MINUTES).contains(&minutes) {
        return Err(SettingsError::AutoLockOutOfRange { minutes });
    }
    update(store, |s| s.auto_lock_minutes = Some(minutes))
}

/// Sets how long a submission retries before it waits in the outbox.
pub fn set_retry_for(store: &Store, seconds: u32) -> Result<Settings, SettingsError> {
    if !(1..=MAX_RETRY_SECONDS).contains(&seconds) {
        return Err(SettingsError::RetryOutOfRange { seconds });
    }
    update(store, |s| s.retry_seconds = Some(seconds))
}

/// Sets how often the app checks for news and notifies (0: never).
pub fn set_notify_every(store: &Store, seconds: u32) -> Result<Settings, SettingsError> {
    if seconds != 0 && !(MIN_NOTIFY_SECONDS..=MAX_NOTIFY_SECONDS).contains(&seconds) {
        return Err(SettingsError::NotifyOutOfRange { seconds });
    }
    update(store, |s| s.notify_seconds = Some(seconds))
}

/// Sets (or, with `None` or an empty string, clears) the proxy every request goes through;
/// one the client cannot use is refused before it is saved.
pub fn set_proxy(store: &Store, proxy: Option<&str>) -> Result<Settings, SettingsError> {
    let proxy = proxy.map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = proxy {
        crate::net::check_proxy(p)?;
    }
    update(store, |s| s.proxy = proxy.map(str::to_owned))
}

/// How every request is made: the environment's test settings (`EMBARGO_CA_FILE`,
/// `EMBARGO_RESOLVE`), then the proxy — `proxy` when a shell was given one (the CLI's
/// `--proxy`), else the settings'.
pub fn net_config(store: &Store, proxy: Option<&str>) -> Result<NetConfig, SettingsError> {
    let mut cfg = NetConfig::from_env()?;
    cfg.proxy = match proxy {
        Some(p) => Some(p.to_owned()),
        None => store.settings()?.proxy,
    };
    if let Some(p) = &cfg.proxy {
        crate::net::check_proxy(p)?;
    }
    Ok(cfg)
}

/// How long a submission retries: `given` (the CLI's `--retry-for`), else the settings'.
pub fn retry_for(store: &Store, given: Option<Duration>) -> Result<Duration, SettingsError> {
    Ok(match given {
        Some(d) => d,
        None => store.settings()?.retry_for(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_once_and_the_proxy_reaches_every_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().to_owned());
        assert!(matches!(
            set_auto_lock(&store, 0),
            Err(SettingsError::AutoLockOutOfRange { minutes: 0 })
        ));
        assert!(set_auto_lock(&store, MAX_AUTO_LOCK_MINUTES + 1).is_err());
        assert_eq!(set_auto_lock(&store, 5).unwrap().auto_lock_minutes(), 5);
        assert!(set_retry_for(&store, 0).is_err());
        assert_eq!(
            set_retry_for(&store, 7).unwrap().retry_for(),
            Duration::from_secs(7)
        );
        assert_eq!(retry_for(&store, None).unwrap(), Duration::from_secs(7));
        assert_eq!(
            store.settings().unwrap().notify_every(),
            Some(Duration::from_secs(120)),
            "notifications on by default"
        );
        assert!(matches!(
            set_notify_every(&store, 4),
            Err(SettingsError::NotifyOutOfRange { seconds: 4 })
        ));
        assert!(set_notify_every(&store, MAX_NOTIFY_SECONDS + 1).is_err());
        assert_eq!(set_notify_every(&store, 0).unwrap().notify_every(), None);
        assert_eq!(
            store.settings().unwrap().role,
            None,
            "asked on the first run"
        );
        assert_eq!(set_role(&store, Role::Team).unwrap().role, Some(Role::Team));
        assert_eq!(
            set_notify_every(&store, 30).unwrap().notify_every(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_for(&store, Some(Duration::from_secs(1))).unwrap(),
            Duration::from_secs(1)
        );

        assert!(matches!(
            set_proxy(&store, Some("not a url")),
            Err(SettingsError::Proxy(_))
        ));
        set_proxy(&store, Some("socks5h://127.0.0.1:9050")).unwrap();
        assert_eq!(
            net_config(&store, None).unwrap().proxy.as_deref(),
            Some("socks5h://127.0.0.1:9050")
        );
        assert_eq!(
            net_config(&store, Some("http://127.0.0.1:3128"))
                .unwrap()
                .proxy
                .as_deref(),
            Some("http://127.0.0.1:3128")
        );
        set_proxy(&store, Some("  ")).unwrap();
        assert_eq!(net_config(&store, None).unwrap().proxy, None);
        // Hand-edited out of range: clamped on reading, so the app still starts.
        std::fs::write(
            dir.path().join("settings.toml"),
            "auto_lock_minutes = 0\nretry_seconds = 999999\nnotify_seconds = 1\n",
        )
        .unwrap();
        let s = store.settings().unwrap();
        assert_eq!(s.auto_lock_minutes(), 1);
        assert_eq!(
            s.retry_for(),
            Duration::from_secs(u64::from(MAX_RETRY_SECONDS))
        );
        assert_eq!(
            s.notify_every(),
            Some(Duration::from_secs(u64::from(MIN_NOTIFY_SECONDS)))
        );
    }
}
