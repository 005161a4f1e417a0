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
}
