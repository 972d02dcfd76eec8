//! Settings shared by [`ZkServerBuilder`](super::ZkServerBuilder) and
//! [`ZkEnsembleBuilder`](super::ZkEnsembleBuilder), and the JVM command line they produce.

use std::env;
use std::path::Path;
use std::time::Duration;

use super::digest::digest_id;
use super::util::{check_entry, write_file, Config};
use super::{HarnessError, Installation};

/// The default `tickTime`: 500 ms, so sessions may last from 1 s (2 ticks) to 10 s (20 ticks).
pub(crate) const DEFAULT_TICK_TIME_MS: u32 = 500;

/// The default bound on waiting for a server to serve.
pub(crate) const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Extra JVM options for every server, split on whitespace.
pub(crate) const JVM_OPTS_ENV: &str = "MIO_ZK_JVM_OPTS";

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) tick_time_ms: u32,
    pub(crate) extended_types: bool,
    pub(crate) super_digest: Option<(String, String)>,
    pub(crate) cfg: Vec<(String, String)>,
    pub(crate) system_properties: Vec<(String, String)>,
    pub(crate) jvm_args: Vec<String>,
    pub(crate) start_timeout: Duration,
    pub(crate) installation: Option<Installation>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tick_time_ms: DEFAULT_TICK_TIME_MS,
            extended_types: false,
            super_digest: None,
            cfg: Vec::new(),
            system_properties: Vec::new(),
            jvm_args: Vec::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
            installation: None,
        }
    }
}

impl Options {
    /// Refuses settings that cannot be written into `zoo.cfg` or onto a command line.
    pub(crate) fn validate(&self) -> Result<(), HarnessError> {
        if self.tick_time_ms == 0 {
            return Err(HarnessError::InvalidConfig {
                reason: "tick_time must be at least 1 ms".into(),
            });
        }
        for (k, v) in &self.cfg {
            check_entry("zoo.cfg entry", k, v)?;
        }
        for (k, v) in &self.system_properties {
            check_entry("system property", k, v)?;
        }
        if let Some((user, password)) = &self.super_digest {
            check_entry("super digest", user, password)?;
        }
        Ok(())
    }

    pub(crate) fn installation(&self) -> Result<Installation, HarnessError> {
        match &self.installation {
            Some(installation) => Ok(installation.clone()),
            None => Installation::find(),
        }
    }

    /// `zoo.cfg` entries every server gets, before the caller's own.
    pub(crate) fn base_config(&self, data_dir: &Path) -> Config {
        let mut cfg = Config::default();
        cfg.set("tickTime", self.tick_time_ms.to_string());
        cfg.set("dataDir", data_dir.display().to_string());
        cfg.set("maxClientCnxns", "0");
        cfg.set("4lw.commands.whitelist", "*");
        cfg.set("admin.enableServer", "false");
        cfg
    }

    /// Applies the caller's `cfg(key, value)` settings over `cfg`.
    pub(crate) fn apply_user_config(&self, cfg: &mut Config) {
        for (k, v) in &self.cfg {
            cfg.set(k.clone(), v.clone());
        }
    }

    /// The JVM options for a server living in `dir`; writes the logging config files there.
    pub(crate) fn jvm_args(&self, dir: &Path) -> Result<Vec<String>, HarnessError> {
        write_file(&dir.join("logback.xml"), LOGBACK_XML)?;
        write_file(&dir.join("log4j.properties"), LOG4J_PROPERTIES)?;

        let mut args: Vec<String> = [
            // Quick start-up and few threads: these servers are small and short-lived.
            "-XX:TieredStopAtLevel=1",
            "-Xshare:auto",
            "-Djava.net.preferIPv4Stack=true",
            "-Dfile.encoding=UTF-8",
            // Loss of a process (kill) loses nothing that the OS has; only power loss would.
            "-Dzookeeper.forceSync=no",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("-Dzookeeper.log.dir={}", dir.display()));
        args.push("-Dzookeeper.log.file=zookeeper.log".into());
        args.push(format!(
            "-Dlogback.configurationFile={}",
            dir.join("logback.xml").display()
        ));
        args.push(format!(
            "-Dlog4j.configuration=file:{}",
            dir.join("log4j.properties").display()
        ));
        if self.extended_types {
            args.push("-Dzookeeper.extendedTypesEnabled=true".into());
        }
        if let Some((user, password)) = &self.super_digest {
            args.push(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={}",
                digest_id(user, password)
            ));
        }
        for (k, v) in &self.system_properties {
            args.push(format!("-D{k}={v}"));
        }
        if let Some(extra) = env::var_os(JVM_OPTS_ENV) {
            args.extend(extra.to_string_lossy().split_whitespace().map(String::from));
        }
        args.extend(self.jvm_args.iter().cloned());
        Ok(args)
    }
}

/// Used when the classpath carries logback (an upstream ZooKeeper tarball): INFO to stdout,
/// which the harness sends to the server's log file.
const LOGBACK_XML: &str = r#"<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="CONSOLE"/>
  </root>
</configuration>
"#;

/// Used when the classpath carries log4j 1.2 with its SLF4J binding.
const LOG4J_PROPERTIES: &str = "\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{HH:mm:ss.SSS} [%t] %-5p %c{1} - %m%n
";

/// Builder setters shared by both builders; `$field` is the builder's `Options` field.
macro_rules! option_setters {
    () => {
        /// Sets ZooKeeper's `tickTime` in milliseconds (default 500). The server accepts
        /// session timeouts from 2 to 20 ticks (1 s to 10 s by default); set
        /// `minSessionTimeout`/`maxSessionTimeout` with [`cfg`](Self::cfg) to widen that.
        /// Zero is refused by `start`.
        pub fn tick_time(mut self, ms: u32) -> Self {
            self.opts.tick_time_ms = ms;
            self
        }

        /// Enables ZooKeeper's extended types (TTL nodes), i.e.
        /// `-Dzookeeper.extendedTypesEnabled=true`.
        pub fn extended_types(mut self, enabled: bool) -> Self {
            self.opts.extended_types = enabled;
            self
        }

        /// Makes `user:password` the super user (digest scheme): a client that
        /// authenticates as it passes every ACL check. kazoo's harness uses
        /// `("super", "test")`.
        pub fn super_digest(mut self, user: &str, password: &str) -> Self {
            self.opts.super_digest = Some((user.to_owned(), password.to_owned()));
            self
        }

        /// Adds or overrides a `zoo.cfg` entry (the harness's own entries, such as
        /// `tickTime` or `4lw.commands.whitelist`, can be overridden too). Keys ZooKeeper
        /// does not know become `zookeeper.`-prefixed system properties, as ZooKeeper does.
        /// Keys with `=` or line breaks are refused by `start`.
        pub fn cfg(mut self, key: &str, value: &str) -> Self {
            self.opts.cfg.push((key.to_owned(), value.to_owned()));
            self
        }

        /// Adds a JVM system property `-Dkey=value` (for example
        /// `zookeeper.maxCnxns`).
        pub fn system_property(mut self, key: &str, value: &str) -> Self {
            self.opts
                .system_properties
                .push((key.to_owned(), value.to_owned()));
            self
        }

        /// Adds a raw JVM argument, after the harness's own (so `-Xmx1g` or
        /// `-XX:TieredStopAtLevel=4` override its defaults). `MIO_ZK_JVM_OPTS` adds
        /// arguments for every server from the environment.
        pub fn jvm_arg(mut self, arg: &str) -> Self {
            self.opts.jvm_args.push(arg.to_owned());
            self
        }

        /// How long `start` (and later restarts) wait for a server to serve (default 30 s).
        pub fn start_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.opts.start_timeout = timeout;
            self
        }

        /// Uses this installation instead of [`Installation::find`].
        ///
        /// [`Installation::find`]: crate::testing::Installation::find
        pub fn installation(mut self, installation: crate::testing::Installation) -> Self {
            self.opts.installation = Some(installation);
            self
        }
    };
}

pub(crate) use option_setters;
