using AgentRuns.LocalHost;
using System.Net;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>What the local host answers besides the functions' own responses.</summary>
public sealed class HttpSurfaceTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    [Theory]
    [InlineData("GET", "/nope")]
    [InlineData("GET", "/api/v1/runs")]
    [InlineData("DELETE", "/v1/runs")] // a known route with a method no function accepts: 404, as the Functions host answers
    [InlineData("GET", "/v1/runs/run_x/signal")]
    public async Task UnknownRoute_Returns404Problem(string method, string path)
    {
        var response = await fixture.Host.Http.SendAsync(new HttpMethod(method), path);

        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Equal("not_found", response.Json.GetProperty("reason_code").GetString());
        Assert.Equal("/errors/not_found", response.Json.GetProperty("type").GetString());
        Assert.Equal(404, response.Json.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task FunctionRoute_IsServedWithTheFunctionsResult()
    {
        var response = await fixture.Host.Http.SendAsync(HttpMethod.Get, "/v1/runs/run_doesnotexist");

        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        Assert.Equal("run_not_found", response.Json.GetProperty("reason_code").GetString());
        Assert.Contains("'run_doesnotexist'", response.Json.GetProperty("detail").GetString(), StringComparison.Ordinal); // the route value reached the function
    }

    [Fact]
    public async Task ARetrySpellingThePathAsTheRouterAllows_ReplaysTheFirstResponse()
    {
        // Routes match without regard to case or a trailing slash: the idempotency key must be scoped the same way, or a
        // retry through another spelling makes a second run.
        var body = $$"""{"input":{"goal":"g","plan":[{"type":"work","tool":"t","summary":"s"}]},"idempotency_key":"{{Guid.NewGuid()}}"}""";

        var first = await fixture.Host.Http.SendAsync(HttpMethod.Post, "/v1/runs", body);
        var upper = await fixture.Host.Http.SendAsync(HttpMethod.Post, "/V1/RUNS", body);
        var slash = await fixture.Host.Http.SendAsync(HttpMethod.Post, "/v1/runs/", body);

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.Created), (first.Status, upper.Status, slash.Status));
        Assert.Equal(first.Body, upper.Body);
        Assert.Equal(first.Body, slash.Body);
    }
}
