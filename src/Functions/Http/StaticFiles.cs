using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace AgentRuns.Functions.Http;

/// <summary>A file shipped with the app, read once: its bytes, its content type and a strong ETag of its content.</summary>
public sealed record StaticFile(string Name, byte[] Content, string ContentType, string ETag);

/// <summary>
/// The files of one folder of the app's output (the console, the OpenAPI document), read into memory at first use. A
/// request names a file; it is looked up by name among the files that exist, so no request path ever reaches the file
/// system (no traversal, no directory listing), and only files of the known types below are served.
/// </summary>
public sealed class StaticFiles
{
    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".json"] = "application/json; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, StaticFile> _files;

    private StaticFiles(FrozenDictionary<string, StaticFile> files) => _files = files;

    public IEnumerable<string> Names => _files.Keys;

    /// <summary>Reads every file of a known type under <paramref name="directory"/> (names relative to it, with '/'). A missing
    /// folder gives an empty set: every request is then a 404.</summary>
    public static StaticFiles Load(string directory)
    {
        var files = new Dictionary<string, StaticFile>(StringComparer.Ordinal);
        if (Directory.Exists(directory))
        {
            foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
            {
                if (ContentTypes.TryGetValue(Path.GetExtension(path), out var contentType))
                {
                    var name = Path.GetRelativePath(directory, path).Replace('\\', '/');
                    var content = File.ReadAllBytes(path);
                    var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..32] + "\"";
                    files[name] = new StaticFile(name, content, contentType, etag);
                }
            }
        }

        return new StaticFiles(files.ToFrozenDictionary(StringComparer.Ordinal));
    }

    public StaticFile? Find(string name) => _files.GetValueOrDefault(name);

    /// <summary>
    /// The file, or <c>304 Not Modified</c> when the client's <c>If-None-Match</c> names its ETag. Every file is revalidated
    /// on each use (<c>no-cache</c>): file names carry no content hash, so a longer lifetime could pair a new page with an old
    /// script after a deploy, and a 304 costs a round trip and no body.
    /// </summary>
    public static IResult Serve(HttpRequest request, StaticFile file, IReadOnlyDictionary<string, string> headers)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(file);
        return new FileResult(file, headers, NotModified(request, file.ETag));
    }

    private static bool NotModified(HttpRequest request, string etag)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch;
        return ifNoneMatch.Count > 0
            && EntityTagHeaderValue.TryParseList(ifNoneMatch, out var tags)
            && tags.Any(t => t.Tag.Equals(EntityTagHeaderValue.Any.Tag) || t.Compare(new EntityTagHeaderValue(etag), useStrongComparison: false));
    }

    private sealed class FileResult(StaticFile file, IReadOnlyDictionary<string, string> headers, bool notModified) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            foreach (var (name, value) in headers)
            {
                response.Headers[name] = value;
            }

            response.Headers.ETag = file.ETag;
            response.Headers.CacheControl = "no-cache";
            if (notModified)
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = file.ContentType;
            response.ContentLength = file.Content.Length;
            await response.Body.WriteAsync(file.Content, httpContext.RequestAborted);
        }
    }
}
