using System.Net;
using AgentRuns.EndToEnd.Tests.Support;
using AgentRuns.Testing.Contract;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>The OpenAPI document and the operator console over real HTTP, without a key (every response checked against the document).</summary>
public sealed class DocumentsOverHttpTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    [Fact]
    public async Task TheOpenApiDocument_IsServedWithoutAKey_ExactlyAsShipped()
    {
        using var anonymous = fixture.Host.CreateClient(TimeSpan.FromSeconds(30));
        anonymous.DefaultRequestHeaders.Authorization = null;

        using var response = await anonymous.GetAsync(new Uri("/openapi.json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(ApiContract.Default.Json, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/console")]
    [InlineData("/console/")]
    [InlineData("/console/index.html")]
    public async Task TheConsole_IsServedWithoutAKey_WithItsSecurityHeaders(string path)
    {
        using var anonymous = fixture.Host.CreateClient(TimeSpan.FromSeconds(30));
        anonymous.DefaultRequestHeaders.Authorization = null;

        using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("default-src 'none';", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());

        // Revalidated with its ETag: 304, no body.
        using var again = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        using var notModified = await anonymous.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task AFileTheConsoleDoesNotHave_Is404()
    {
        var response = await fixture.Host.Http.SendAsync(HttpMethod.Get, "/console/js/missing.js");

        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        Assert.Equal("not_found", response.Json.GetProperty("reason_code").GetString());
    }
}
