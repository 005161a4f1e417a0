using System.Text;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The console's static files and the OpenAPI document as the app serves them: types, caching, and the security headers.</summary>
public sealed partial class ConsoleFunctionsTests
{
    private static readonly ShippedFiles Files = new(AppContext.BaseDirectory);
    private static readonly string ConsoleSource = Path.Combine(RepositoryRoot.Path, "src", "Functions", "Console");

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("index.html")]
    public async Task ThePage_IsServedAsHtml_WithAStrictContentSecurityPolicy(string? path)
    {
        var response = await ServeAsync(path);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.ContentType);
        var csp = response.Headers.ContentSecurityPolicy.ToString();
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("style-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("require-trusted-types-for 'script'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.XContentTypeOptions.ToString());
        Assert.Equal("no-referrer", response.Headers["Referrer-Policy"].ToString());
        Assert.Equal("no-cache", response.Headers.CacheControl.ToString());
        Assert.Contains("<script type=\"module\" src=\"/console/js/app.js\">", Body(response), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("js/app.js", "text/javascript; charset=utf-8")]
    [InlineData("console.css", "text/css; charset=utf-8")]
    [InlineData("favicon.svg", "image/svg+xml")]
    public async Task ItsFiles_AreServedWithTheirContentTypes(string path, string contentType)
    {
        var response = await ServeAsync(path);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(contentType, response.ContentType);
        Assert.Equal(File.ReadAllBytes(Path.Combine(ConsoleSource, path)), ((MemoryStream)response.Body).ToArray());
        Assert.False(string.IsNullOrEmpty(response.Headers.ContentSecurityPolicy.ToString()));
    }

    [Theory]
    [InlineData("nope.js")]
    [InlineData("js/")]
    [InlineData("../openapi/openapi.json")]
    [InlineData("..%2Fappsettings.json")]
    [InlineData("/etc/passwd")]
    [InlineData("js/../index.html")]
    public async Task AnythingElse_Is404_AndNeverReachesTheFileSystem(string path)
    {
        var response = await ServeAsync(path);

        Assert.Equal(404, response.StatusCode);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Contains("\"reason_code\":\"not_found\"", Body(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileTheClientHas_Is304WithoutABody()
    {
        var first = await ServeAsync("js/app.js");
        var etag = first.Headers.ETag.ToString();

        var again = await ServeAsync("js/app.js", etag);
        var changed = await ServeAsync("js/app.js", "\"something-else\"");

        Assert.Matches("^\"[0-9a-f]{32}\"$", etag);
        Assert.Equal(304, again.StatusCode);
        Assert.Equal(0, again.Body.Length);
        Assert.Equal(etag, again.Headers.ETag.ToString());
        Assert.Equal(200, changed.StatusCode);
    }

    [Fact]
    public async Task TheOpenApiDocument_IsServedAsTheShippedFile()
    {
        var context = NewContext();
        await new OpenApiFunctions(Files).GetOpenApiDocument(context.Request).ExecuteAsync(context);

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal("application/json; charset=utf-8", context.Response.ContentType);
        Assert.Equal(File.ReadAllBytes(Path.Combine(RepositoryRoot.Path, "src", "Functions", "OpenApi", "openapi.json")), ((MemoryStream)context.Response.Body).ToArray());
        Assert.Equal("*", context.Response.Headers.AccessControlAllowOrigin.ToString());
        Assert.Equal("nosniff", context.Response.Headers.XContentTypeOptions.ToString());
    }

    [Fact]
    public void TheConsole_NeverTurnsStringsIntoHtmlOrCode()
    {
        var scripts = Directory.EnumerateFiles(ConsoleSource, "*.js", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(scripts);
        foreach (var script in scripts)
        {
            var text = File.ReadAllText(script);
            Assert.False(HtmlSink().IsMatch(text), $"{script} uses an HTML or code sink: {HtmlSink().Match(text).Value}");
        }

        // No inline script, style or event handler: the CSP would block them, and nothing may depend on them.
        var html = File.ReadAllText(Path.Combine(ConsoleSource, "index.html"));
        Assert.DoesNotMatch(@"<script(?![^>]*\ssrc=)[^>]*>", html);
        Assert.DoesNotMatch(@"<style", html);
        Assert.DoesNotMatch(@"\sstyle=", html);
        Assert.DoesNotMatch(@"\son[a-z]+=", html);
    }

    private static async Task<HttpResponse> ServeAsync(string? path, string? ifNoneMatch = null)
    {
        var context = NewContext();
        if (ifNoneMatch is not null)
        {
            context.Request.Headers.IfNoneMatch = ifNoneMatch;
        }

        await new ConsoleFunctions(Files).ServeConsole(context.Request, path).ExecuteAsync(context);
        return context.Response;
    }

    private static DefaultHttpContext NewContext()
    {
        var context = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddSingleton(typeof(Microsoft.Extensions.Logging.ILogger<>), typeof(NullLogger<>)).BuildServiceProvider(),
        };
        context.Request.Method = "GET";
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string Body(HttpResponse response) => Encoding.UTF8.GetString(((MemoryStream)response.Body).ToArray());

    [GeneratedRegex(@"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setTimeout\(\s*['""`]|createContextualFragment|DOMParser")]
    private static partial Regex HtmlSink();
}
