using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Http;

/// <summary>
/// The operator console at <c>/console</c>: static files (HTML, JavaScript modules, CSS) that call the API from the browser
/// with the operator's key. No API key is needed to load them; the page asks for one. Every file goes out with a strict
/// Content-Security-Policy (scripts and styles from this origin only, no inline code, no framing, and Trusted Types so that
/// no string can ever become HTML), <c>nosniff</c> and no referrer.
/// </summary>
public sealed class ConsoleFunctions(ShippedFiles files)
{
    public const string IndexFile = "index.html";

    /// <summary>What the console's files may load: nothing but this origin's scripts, styles, images and API.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

    public static readonly IReadOnlyDictionary<string, string> SecurityHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["Content-Security-Policy"] = ContentSecurityPolicy,
        ["X-Content-Type-Options"] = "nosniff",
        ["Referrer-Policy"] = "no-referrer",
        ["X-Frame-Options"] = "DENY",
        ["Cross-Origin-Opener-Policy"] = "same-origin",
        ["Cross-Origin-Resource-Policy"] = "same-origin",
        ["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()",
    };

    /// <summary><c>/console</c> and <c>/console/</c> are the page; <c>/console/{file}</c> its scripts, styles and images.</summary>
    [Function(nameof(ServeConsole))]
    public IResult ServeConsole(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "console/{*path}")] HttpRequest req,
        string? path)
    {
        ArgumentNullException.ThrowIfNull(req);
        var name = string.IsNullOrEmpty(path) ? IndexFile : path;
        return files.Console.Find(name) is { } file
            ? StaticFiles.Serve(req, file, SecurityHeaders)
            : ApiResults.Problem(new ApiException(StatusCodes.Status404NotFound, ReasonCodes.NotFound, "Not found", "The console has no such file."));
    }
}
