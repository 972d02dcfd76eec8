//! Finding a ZooKeeper installation and a `java` to run it with.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use super::HarnessError;

/// Debian's (and Ubuntu's) ZooKeeper jar; its manifest `Class-Path` pulls in its dependencies.
const DEBIAN_JAR: &str = "/usr/share/java/zookeeper.jar";

/// An SLF4J binding that Debian's `libslf4j-java` (a dependency of `zookeeper`) ships. Without
/// a binding the server logs nothing at all, and a failing test could not show its log.
const DEBIAN_SLF4J_BINDING: &str = "/usr/share/java/slf4j-simple.jar";

/// Where the ZooKeeper server classes and the `java` launcher are.
///
/// [`Installation::find`] looks, in this order, at:
///
/// 1. `MIO_ZK_CLASSPATH`: a complete server classpath, used verbatim;
/// 2. `ZOOKEEPER_PATH`: a directory of jars (every `*.jar` in it and in its `lib/`), for
///    example an unpacked `apache-zookeeper-3.8.x-bin` or its `lib/` directory;
/// 3. Debian's `/usr/share/java/zookeeper.jar` (package `zookeeper`), plus
///    `/usr/share/java/slf4j-simple.jar` so that the server writes a log.
///
/// `java` comes from `$JAVA_HOME/bin/java` when that exists, else from `PATH`.
///
/// # Examples
///
/// ```no_run
/// use mio_zookeeper::testing::Installation;
///
/// let zk = Installation::find()?;
/// println!("java: {}, classpath: {}", zk.java().display(), zk.classpath());
/// # Ok::<(), mio_zookeeper::testing::HarnessError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    java: PathBuf,
    classpath: String,
}

impl Installation {
    /// An installation given explicitly: the `java` launcher and a complete server classpath
    /// (`:`-separated). Nothing is checked until a server is started with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::testing::Installation;
    ///
    /// let zk = Installation::new("/usr/bin/java", "/opt/zk/lib/*");
    /// assert_eq!(zk.classpath(), "/opt/zk/lib/*");
    /// ```
    pub fn new(java: impl Into<PathBuf>, classpath: impl Into<String>) -> Installation {
        Installation {
            java: java.into(),
            classpath: classpath.into(),
        }
    }

    /// Finds ZooKeeper and `java` from the environment (see the type's documentation).
    ///
    /// # Notable errors
    ///
    /// [`HarnessError::NotInstalled`] when no server classes or no `java` are found; its
    /// message says how to install them (`scripts/install-zookeeper`, `apt-get`, or the
    /// environment variables).
    pub fn find() -> Result<Installation, HarnessError> {
        let classpath = find_classpath()?;
        let java = find_java()?;
        log::debug!(
            "ZooKeeper installation: java {}, classpath {classpath}",
            java.display()
        );
        Ok(Installation { java, classpath })
    }

    /// The `java` launcher.
    pub fn java(&self) -> &Path {
        &self.java
    }

    /// The server classpath (`:`-separated).
    pub fn classpath(&self) -> &str {
        &self.classpath
    }
}

fn find_classpath() -> Result<String, HarnessError> {
    if let Some(cp) = env::var_os("MIO_ZK_CLASSPATH") {
        let cp = cp.to_string_lossy().into_owned();
        if cp.trim().is_empty() {
            return Err(HarnessError::NotInstalled {
                reason: "MIO_ZK_CLASSPATH is set but empty".into(),
            });
        }
        return Ok(cp);
    }

    if let Some(dir) = env::var_os("ZOOKEEPER_PATH") {
        let dir = PathBuf::from(dir);
        let mut jars = jars_in(&dir);
        jars.extend(jars_in(&dir.join("lib")));
        if jars.is_empty() {
            return Err(HarnessError::NotInstalled {
                reason: format!(
                    "ZOOKEEPER_PATH={} holds no .jar files (neither in it nor in its lib/)",
                    dir.display()
                ),
            });
        }
        return Ok(join_paths(&jars));
    }

    let debian = Path::new(DEBIAN_JAR);
    if debian.is_file() {
        let mut jars = vec![debian.to_path_buf()];
        let binding = Path::new(DEBIAN_SLF4J_BINDING);
        if binding.is_file() {
            jars.push(binding.to_path_buf());
        }
        return Ok(join_paths(&jars));
    }

    Err(HarnessError::NotInstalled {
        reason: format!(
            "neither MIO_ZK_CLASSPATH nor ZOOKEEPER_PATH is set, and {DEBIAN_JAR} does not exist"
        ),
    })
}

/// The `*.jar` files directly in `dir`, sorted; none if `dir` is not a readable directory.
fn jars_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut jars: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "jar"))
        .collect();
    jars.sort();
    jars
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn find_java() -> Result<PathBuf, HarnessError> {
    if let Some(home) = env::var_os("JAVA_HOME") {
        let java = PathBuf::from(home).join("bin").join("java");
        if java.is_file() {
            return Ok(java);
        }
        log::warn!(
            "JAVA_HOME is set but {} does not exist; looking for java on PATH",
            java.display()
        );
    }
    if let Some(path) = env::var_os("PATH") {
        for dir in env::split_paths(&path) {
            let java = dir.join("java");
            if java.is_file() {
                return Ok(java);
            }
        }
    }
    Err(HarnessError::NotInstalled {
        reason: "no `java` found in $JAVA_HOME/bin or on PATH".into(),
    })
}
