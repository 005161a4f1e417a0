using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Bad requests get a problem+json with a reason_code, never a 500, and change nothing.</summary>
public sealed class HttpErrorTests
{
    [Theory]
    [InlineData("GET", "")]
    [InlineData("GET", "/events")]
    [InlineData("POST", "/signal")]
    [InlineData("POST", "/cancel")]
    public async Task AnUnknownRun_Is404RunNotFound_OnEveryRoute(string method, string suffix)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var response = await api.SendAsync(method, $"/v1/runs/run_00000000000000000000000000{suffix}", suffix == "/signal" ? """{"action":"approve"}""" : null);
        Assert.Equal(404, response.Status);
        Assert.Equal("run_not_found", response.ReasonCode);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Equal(404, response.Json.GetProperty("status").GetInt32());
        Assert.Equal("/errors/run_not_found", response.Json.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("run_'%20or%20PartitionKey%20ne%20'")]
    [InlineData("run_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("..%2F..%2Fetc")]
    public async Task AMalformedRunId_IsRefusedBeforeAnyQuery(string id)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var response = await api.GetAsync($"/v1/runs/{id}");
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_request", response.ReasonCode);
    }

    [Theory]
    [InlineData("{not json", "invalid_request", 400)]
    [InlineData("[]", "invalid_request", 400)]
    [InlineData("", "invalid_request", 400)]
    [InlineData("""{"input":"goal"}""", "invalid_request", 400)]
    [InlineData("""{"metadata":{}}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":""}}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":42}}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g"},"signal_timeout_seconds":"10"}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g"},"signal_timeout_seconds":0}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g"},"signal_timeout_seconds":1.5}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g"},"metadata":[1]}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g"},"surprise":true}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g","plan":[{"type":"teleport"}]}}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g","plan":"all of it"}}""", "invalid_request", 400)]
    [InlineData("""{"input":{"goal":"g","plan":[{"type":"approval","allowed_actions":["launch"]}]}}""", "invalid_request", 400)]
    public async Task CreateRun_WithABadBody_IsRefused(string body, string reasonCode, int status)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var response = await api.PostAsync("/v1/runs", body);
        Assert.Equal(status, response.Status);
        Assert.Equal(reasonCode, response.ReasonCode);
        Assert.Equal("application/problem+json", response.ContentType);
    }

    [Fact]
    public async Task CreateRun_WithAHugeBody_Is413()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var response = await api.PostAsync("/v1/runs", "{\"input\":{\"goal\":\"" + new string('x', 40_000) + "\"}}");
        Assert.Equal(413, response.Status);
        Assert.Equal("payload_too_large", response.ReasonCode);
    }

    [Fact]
    public async Task CreateRun_WithDeeplyNestedJson_Is400()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var nested = string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200);
        var response = await api.PostAsync("/v1/runs", "{\"input\":{\"goal\":\"g\",\"deep\":" + nested + "}}");
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_request", response.ReasonCode);
    }

    [Theory]
    [InlineData("""{"action":"approve_all"}""", 400, "invalid_signal_type")]
    [InlineData("""{"action":42}""", 400, "invalid_signal_type")]
    [InlineData("""{"payload":{}}""", 400, "invalid_signal_type")]
    [InlineData("""{"action":"submit_input"}""", 400, "invalid_request")]
    [InlineData("""{"action":"submit_input","payload":{}}""", 400, "invalid_request")]
    [InlineData("""{"action":"approve","payload":"yes"}""", 400, "invalid_request")]
    [InlineData("""{"action":"approve","request_id":7}""", 400, "invalid_request")]
    [InlineData("{\"action\":", 400, "invalid_request")]
    [InlineData("null", 400, "invalid_request")]
    public async Task Signal_WithABadBody_IsRefused_AndTheRunKeepsWaiting(string body, int status, string reasonCode)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval"}"""));
        await api.WaitForEventAsync(runId, "run.awaiting_input");
        var before = await api.EventsAsync(runId);

        var response = await api.PostAsync($"/v1/runs/{runId}/signal", body);
        Assert.Equal(status, response.Status);
        Assert.Equal(reasonCode, response.ReasonCode);

        await api.WaitForStatusAsync(runId, "awaiting_input");
        Assert.Equal(before.Count, (await api.EventsAsync(runId)).Count);
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/cancel", null)).Status);
        await api.WaitForEndAsync(runId);
    }

    [Theory]
    [InlineData("/v1/runs?status=sleeping")]
    [InlineData("/v1/runs?limit=0")]
    [InlineData("/v1/runs?limit=abc")]
    [InlineData("/v1/runs?cursor=x'y")]
    [InlineData("/v1/runs?limit=1&limit=2")]
    [InlineData("/v1/runs/run_00000000000000000000000000/events?after_seq=-1")]
    [InlineData("/v1/runs/run_00000000000000000000000000/events?limit=5000")]
    public async Task BadQueryParameters_AreRefused(string url)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var response = await api.GetAsync(url);
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_request", response.ReasonCode);
    }
}
