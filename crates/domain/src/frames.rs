//! In-app detection for frames the SDK did not mark: which frames are the application's own
//! code, judged from paths, module names and function names per platform.
//!
//! Grouping's `app` variant hashes only in-app frames, so that an issue survives library and
//! runtime upgrades; without this, events from SDKs that leave `in_app` out would only have the
//! full-stack `system` hash. Detection only fills in frames whose `in_app` is absent, after stack
//! trace rules ran: an SDK's (or a rule's) explicit value always wins. Frames it cannot judge stay
//! unmarked, and grouping treats them as not in-app, as Sentry does.
//!
//! Signals, per platform:
//! * Python: `site-packages`/`dist-packages` and the standard library (`lib/python3.X`,
//!   `<frozen ...>`) are not in-app; other absolute paths are.
//! * JavaScript/Node: `node_modules`, `node:` internals, browser extensions, bundler runtimes and
//!   engine placeholders (`<anonymous>`, `[native code]`) are not in-app; other files are.
//! * JVM: the JDK (`java.`, `javax.`, `jdk.`, `sun.`, `kotlin.`, ...) and common library
//!   namespaces are not in-app; other classes are.
//! * Go: the standard library (by package path), the module cache (`/pkg/mod/`) and `vendor/`
//!   are not in-app; other packages are.
//! * Native (C, C++, Rust, Objective-C): system images (`/usr/lib`, `/lib`, `/System/Library`,
//!   `C:\Windows`, libc, libSystem, ntdll, ...), the Rust standard library (`std::`, `core::`,
//!   `alloc::`, `/rustc/` sources) and Cargo dependencies are not in-app; other frames with a
//!   source path are.
//! * Ruby: gems, `vendor/bundle` and the standard library are not in-app; other files are.
//! * PHP: `vendor/` is not in-app; other files are.
//! * .NET: `System.`, `Microsoft.` and common library namespaces are not in-app; other types are.

use serde_json::{Map, Value};

use crate::grouping::platform::{Family, FrameFields, trim_function_name};

/// Errhound's guess about a frame: `Some((in_app, reason))`, or `None` when it cannot tell.
pub fn detect_in_app(
    frame: &Map<String, Value>,
    event_platform: &str,
) -> Option<(bool, &'static str)> {
    detect(&FrameFields::read(frame, event_platform))
}

pub(crate) fn detect(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    match f.platform {
        "python" => python(f),
        "javascript" | "node" => javascript(f),
        "java" => jvm(f),
        "go" => go(f),
        "ruby" => ruby(f),
        "php" => php(f),
        "csharp" => dotnet(f),
        _ if f.family() == Family::Native => native(f),
        _ => None,
    }
}

/// A path with `/` separators, lowercased (paths are compared case-insensitively).
fn normalized_path(f: &FrameFields<'_>) -> Option<String> {
    f.abs_path
        .or(f.filename)
        .map(|p| p.replace('\\', "/").to_lowercase())
}

fn is_absolute(path: &str) -> bool {
    path.starts_with('/') || path.as_bytes().get(1..3) == Some(b":/") || path.starts_with("//")
}

fn python(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    if f.module
        .is_some_and(|m| m == "sentry_sdk" || m.starts_with("sentry_sdk."))
    {
        return Some((false, "Sentry SDK"));
    }
    if f.filename.is_some_and(|name| name.starts_with("<frozen ")) {
        return Some((false, "Python standard library"));
    }
    let path = normalized_path(f)?;
    if path.contains("/site-packages/") || path.contains("/dist-packages/") {
        return Some((false, "installed package"));
    }
    // `/usr/lib/python3.12/json/decoder.py`, `C:\Python312\Lib\json\decoder.py`.
    let windows_stdlib = path
        .split('/')
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w[0].starts_with("python") && w[1] == "lib");
    if path.contains("/lib/python") || path.contains("/lib64/python") || windows_stdlib {
        return Some((false, "Python standard library"));
    }
    is_absolute(&path).then_some((true, "application file"))
}

fn javascript(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    let raw = f.abs_path.or(f.filename)?;
    let path = raw.replace('\\', "/");
    if path.contains("/node_modules/") || path.starts_with("node_modules/") {
        return Some((false, "node_modules"));
    }
    if path.starts_with("node:") || path.starts_with("internal/") {
        return Some((false, "Node.js internals"));
    }
    if matches!(
        path.as_str(),
        "<anonymous>" | "[native code]" | "native" | "native code" | "eval code" | "eval"
    ) {
        return Some((false, "engine internals"));
    }
    if [
        "chrome-extension:",
        "moz-extension:",
        "safari-extension:",
        "safari-web-extension:",
    ]
    .iter()
    .any(|scheme| path.starts_with(scheme))
    {
        return Some((false, "browser extension"));
    }
    if path.contains("webpack/bootstrap") || path.contains("webpack/runtime/") {
        return Some((false, "bundler runtime"));
    }
    // Node before v16 reported core modules by bare name (`events.js`).
    if f.platform == "node" && !path.contains('/') {
        return Some((false, "Node.js internals"));
    }
    Some((true, "application file"))
}

/// JVM namespaces that are never the application's.
const JVM_LIBRARIES: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "groovy.",
    "org.codehaus.groovy.",
    "clojure.",
    "android.",
    "androidx.",
    "dalvik.",
    "com.android.",
    "io.sentry.",
    "org.springframework.",
    "org.apache.",
    "org.hibernate.",
    "org.eclipse.",
    "org.junit.",
    "junit.",
    "com.google.",
    "com.fasterxml.",
    "okhttp3.",
    "okio.",
    "retrofit2.",
    "io.netty.",
    "reactor.",
    "io.reactivex.",
    "rx.",
    "ch.qos.",
    "org.slf4j.",
    "io.micrometer.",
    "org.glassfish.",
    "jakarta.",
    "io.grpc.",
    "io.ktor.",
    "org.jetbrains.",
    "com.squareup.",
    "io.undertow.",
    "org.postgresql.",
    "com.mysql.",
    "org.h2.",
    "com.zaxxer.",
    "org.aspectj.",
    "net.bytebuddy.",
    "org.mockito.",
    "org.gradle.",
    "io.vertx.",
    "io.quarkus.",
    "io.micronaut.",
];

fn jvm(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    let module = f.module?;
    if JVM_LIBRARIES
        .iter()
        .any(|prefix| module.starts_with(prefix))
    {
        return Some((false, "JVM runtime or library"));
    }
    Some((true, "application class"))
}

/// Top-level packages of Go's standard library.
const GO_STD: &[&str] = &[
    "archive",
    "bufio",
    "builtin",
    "bytes",
    "cmp",
    "compress",
    "container",
    "context",
    "crypto",
    "database",
    "debug",
    "embed",
    "encoding",
    "errors",
    "expvar",
    "flag",
    "fmt",
    "go",
    "hash",
    "html",
    "image",
    "index",
    "internal",
    "io",
    "iter",
    "log",
    "maps",
    "math",
    "mime",
    "net",
    "os",
    "path",
    "plugin",
    "reflect",
    "regexp",
    "runtime",
    "slices",
    "sort",
    "strconv",
    "strings",
    "structs",
    "sync",
    "syscall",
    "testing",
    "text",
    "time",
    "unicode",
    "unique",
    "unsafe",
    "weak",
    "vendor",
];

fn go(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    if let Some(path) = normalized_path(f) {
        if path.contains("/pkg/mod/") {
            return Some((false, "Go module dependency"));
        }
        if path.contains("/vendor/") {
            return Some((false, "vendored dependency"));
        }
        if path.contains("/usr/local/go/src/") || path.contains("/usr/lib/go/src/") {
            return Some((false, "Go standard library"));
        }
    }
    let module = f.module?;
    if module.starts_with("github.com/getsentry/sentry-go") {
        return Some((false, "Sentry SDK"));
    }
    let first = module.split('/').next().unwrap_or(module);
    if GO_STD.contains(&first) {
        return Some((false, "Go standard library"));
    }
    Some((true, "application package"))
}

/// Image names of system libraries.
const NATIVE_SYSTEM_IMAGES: &[&str] = &[
    "libc.so",
    "libc-",
    "libm.so",
    "libpthread",
    "libdl",
    "librt",
    "ld-linux",
    "ld-musl",
    "libstdc++",
    "libc++",
    "libgcc",
    "libsystem_",
    "libdyld",
    "libobjc",
    "libdispatch",
    "ntdll.dll",
    "kernel32.dll",
    "kernelbase.dll",
    "ucrtbase.dll",
    "msvcrt",
    "vcruntime",
    "user32.dll",
    "linux-gate.so",
    "linux-vdso.so",
];

/// Rust crates and C/C++ runtime prefixes of functions that are never the application's.
const NATIVE_RUNTIME_FUNCTIONS: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "__rust",
    "rust_begin_unwind",
    "backtrace::",
    "sentry::",
    "sentry_core::",
    "sentry_backtrace::",
    "sentry_panic::",
    "__libc_",
    "__cxa_",
    "_start",
    "__scrt_",
    "invoke_main",
    "BaseThreadInitThunk",
    "RtlUserThreadStart",
];

fn native(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    if let Some(package) = f.package {
        let package = package.replace('\\', "/").to_lowercase();
        let image = package.rsplit('/').next().unwrap_or(&package);
        if [
            "/usr/lib/",
            "/lib/",
            "/lib64/",
            "/system/library/",
            "c:/windows/",
            "/apex/",
            "/system/lib",
        ]
        .iter()
        .any(|dir| package.starts_with(dir))
            || NATIVE_SYSTEM_IMAGES
                .iter()
                .any(|name| image.starts_with(name))
        {
            return Some((false, "system library"));
        }
    }
    if let Some(function) = f.function.or(f.raw_function) {
        let function = trim_function_name(function, f.platform);
        let function = function.trim_start_matches('<');
        if NATIVE_RUNTIME_FUNCTIONS
            .iter()
            .any(|prefix| function.starts_with(prefix))
        {
            return Some((false, "runtime or standard library"));
        }
    }
    let path = normalized_path(f)?;
    if path.starts_with("/rustc/") || path.contains("/.rustup/toolchains/") {
        return Some((false, "Rust standard library"));
    }
    if path.contains("/.cargo/registry/") || path.contains("/.cargo/git/") {
        return Some((false, "Cargo dependency"));
    }
    if path.starts_with("/usr/include/") || path.contains("/include/c++/") {
        return Some((false, "system headers"));
    }
    is_absolute(&path).then_some((true, "application source"))
}

fn ruby(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    let path = normalized_path(f)?;
    if path.contains("/gems/") || path.contains("/vendor/bundle/") || path.contains("/rubygems/") {
        return Some((false, "gem"));
    }
    if path.contains("/lib/ruby/") || path.starts_with("<internal:") {
        return Some((false, "Ruby standard library"));
    }
    Some((true, "application file"))
}

fn php(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    let path = normalized_path(f)?;
    if path.contains("/vendor/") || path.starts_with("vendor/") {
        return Some((false, "Composer dependency"));
    }
    Some((true, "application file"))
}

/// .NET namespaces that are never the application's.
const DOTNET_LIBRARIES: &[&str] = &[
    "System.",
    "Microsoft.",
    "Sentry.",
    "Newtonsoft.",
    "Mono.",
    "NUnit.",
    "Xunit.",
    "Castle.",
    "Polly.",
    "Serilog.",
    "Npgsql.",
    "Dapper.",
    "AutoMapper.",
    "Grpc.",
    "Google.",
    "Amazon.",
    "MediatR.",
    "StackExchange.",
    "Swashbuckle.",
    "FluentValidation.",
    "Hangfire.",
    "Quartz.",
];

fn dotnet(f: &FrameFields<'_>) -> Option<(bool, &'static str)> {
    let module = f.module?;
    if module == "System"
        || DOTNET_LIBRARIES
            .iter()
            .any(|prefix| module.starts_with(prefix))
    {
        return Some((false, ".NET runtime or library"));
    }
    Some((true, "application type"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn detect_json(frame: Value, platform: &str) -> Option<bool> {
        detect_in_app(frame.as_object().unwrap(), platform).map(|(in_app, _)| in_app)
    }

    #[test]
    fn python() {
        let d = |path: &str| detect_json(json!({"abs_path": path}), "python");
        assert_eq!(
            d("/srv/app/.venv/lib/python3.12/site-packages/requests/api.py"),
            Some(false)
        );
        assert_eq!(
            d("/usr/lib/python3/dist-packages/yaml/__init__.py"),
            Some(false)
        );
        assert_eq!(d("/usr/lib/python3.12/json/decoder.py"), Some(false));
        assert_eq!(d("C:\\Python312\\Lib\\json\\decoder.py"), Some(false));
        assert_eq!(d("/srv/app/shop/orders.py"), Some(true));
        assert_eq!(d("shop/orders.py"), None);
        assert_eq!(
            detect_json(json!({"filename": "<frozen runpy>"}), "python"),
            Some(false)
        );
    }

    #[test]
    fn javascript() {
        let d = |path: &str, platform| detect_json(json!({"abs_path": path}), platform);
        assert_eq!(
            d("/app/node_modules/express/lib/router/index.js", "node"),
            Some(false)
        );
        assert_eq!(d("node:internal/process/task_queues", "node"), Some(false));
        assert_eq!(d("events.js", "node"), Some(false));
        assert_eq!(d("/app/src/server.js", "node"), Some(true));
        assert_eq!(
            d(
                "https://shop.example/static/js/main.3f2a9c1b.js",
                "javascript"
            ),
            Some(true)
        );
        assert_eq!(
            d("chrome-extension://abc/content.js", "javascript"),
            Some(false)
        );
        assert_eq!(d("[native code]", "javascript"), Some(false));
    }

    #[test]
    fn jvm_go_native_ruby_php_dotnet() {
        let java = |module: &str| detect_json(json!({"module": module}), "java");
        assert_eq!(java("java.lang.Thread"), Some(false));
        assert_eq!(
            java("org.springframework.web.servlet.FrameworkServlet"),
            Some(false)
        );
        assert_eq!(java("com.shop.orders.OrderService"), Some(true));
        let go = |module: &str, path: &str| {
            detect_json(json!({"module": module, "abs_path": path}), "go")
        };
        assert_eq!(
            go("net/http", "/usr/local/go/src/net/http/server.go"),
            Some(false)
        );
        assert_eq!(go("runtime", "/opt/go/src/runtime/panic.go"), Some(false));
        assert_eq!(
            go(
                "github.com/lib/pq",
                "/root/go/pkg/mod/github.com/lib/pq@v1.10.9/conn.go"
            ),
            Some(false)
        );
        assert_eq!(go("main", "/src/shop/main.go"), Some(true));
        assert_eq!(
            go("shop.example/orders", "/src/shop/orders/orders.go"),
            Some(true)
        );
        let native = |frame: Value| detect_json(frame, "native");
        assert_eq!(
            native(json!({"function": "std::rt::lang_start"})),
            Some(false)
        );
        assert_eq!(
            native(json!({"function": "<core::option::Option<T>>::unwrap"})),
            Some(false)
        );
        assert_eq!(
            native(json!({"function": "memcpy", "package": "/usr/lib/x86_64-linux-gnu/libc.so.6"})),
            Some(false)
        );
        assert_eq!(
            native(
                json!({"function": "tokio::runtime::park", "abs_path": "/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.40.0/src/runtime/park.rs"})
            ),
            Some(false)
        );
        assert_eq!(
            native(
                json!({"function": "shop::checkout", "abs_path": "/build/shop/src/checkout.rs"})
            ),
            Some(true)
        );
        assert_eq!(native(json!({"function": "shop::checkout"})), None);
        let ruby = |path: &str| detect_json(json!({"abs_path": path}), "ruby");
        assert_eq!(
            ruby("/usr/local/bundle/gems/activerecord-7.1.3/lib/active_record/base.rb"),
            Some(false)
        );
        assert_eq!(ruby("/app/app/models/order.rb"), Some(true));
        let php = |path: &str| detect_json(json!({"abs_path": path}), "php");
        assert_eq!(
            php("/var/www/vendor/laravel/framework/src/Illuminate/Foundation/Application.php"),
            Some(false)
        );
        assert_eq!(
            php("/var/www/app/Http/Controllers/OrderController.php"),
            Some(true)
        );
        let net = |module: &str| detect_json(json!({"module": module}), "csharp");
        assert_eq!(net("System.Threading.Tasks.Task"), Some(false));
        assert_eq!(net("Shop.Orders.OrderService"), Some(true));
    }
}
