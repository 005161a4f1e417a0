using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Bearer API keys on every route, and tenants that cannot see each other's runs.</summary>
public sealed class AuthAndTenancyTests
{
    public static TheoryData<string, string> EveryRoute => new()
    {
        { "POST", "/v1/runs" },
        { "GET", "/v1/runs" },
        { "GET", "/v1/runs/run_00000000000000000000000000" },
        { "GET", "/v1/runs/run_00000000000000000000000000/events" },
        { "GET", "/v1/runs/run_00000000000000000000000000/events/stream" },
        { "POST", "/v1/runs/run_00000000000000000000000000/signal" },
        { "POST", "/v1/runs/run_00000000000000000000000000/cancel" },
        { "POST", "/v1/webhooks" },
        { "GET", "/v1/webhooks" },
        { "GET", "/v1/webhooks/wh_00000000000000000000000000" },
        { "DELETE", "/v1/webhooks/wh_00000000000000000000000000" },
        { "GET", "/v1/webhooks/wh_00000000000000000000000000/deliveries" },
    };

    [Theory]
    [MemberData(nameof(EveryRoute))]
    public async Task EveryRoute_WithoutAKey_Is401WithWwwAuthenticateBearer(string method, string path)
    {
        var host = await RunsTestHost.GetAsync();
        var anonymous = new ApiClient(host, key: null);
        foreach (var authorization in new string?[] { null, "Basic dXNlcjpwYXNz", "Bearer", "Bearer ark_this-key-was-never-minted-0000000000", "Bearer bad key with spaces" })
        {
            var headers = authorization is null ? null : new Dictionary<string, string> { ["Authorization"] = authorization };
            var response = await anonymous.SendAsync(method, path, method == "POST" ? """{"input":{"goal":"g"},"action":"approve"}""" : null, headers);
            Assert.Equal(401, response.Status);
            Assert.Equal("unauthorized", response.ReasonCode);
            Assert.StartsWith("Bearer", response.Headers.WWWAuthenticate.ToString(), StringComparison.Ordinal);
            Assert.Equal("application/problem+json", response.ContentType);
        }
    }

    [Fact]
    public async Task TheHealthProbe_NeedsNoKey()
    {
        var host = await RunsTestHost.GetAsync();
        var response = await new ApiClient(host, key: null).GetAsync("/health");
        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task ARevokedKey_StopsWorkingAtOnce()
    {
        var host = await RunsTestHost.GetAsync();
        var minted = await host.Keys.MintAsync("revoke-" + Guid.NewGuid().ToString("N")[..8], "to revoke");
        var client = new ApiClient(host, minted.Key);
        Assert.Equal(200, (await client.GetAsync("/v1/runs")).Status);

        Assert.True(await host.Keys.RevokeAsync(minted.Hash));

        var refused = await client.GetAsync("/v1/runs");
        Assert.Equal(401, refused.Status);
        Assert.Equal("unauthorized", refused.ReasonCode);
    }

    [Fact]
    public async Task KeysAreStoredOnlyAsHashes()
    {
        var host = await RunsTestHost.GetAsync();
        var minted = await host.Keys.MintAsync("hash-" + Guid.NewGuid().ToString("N")[..8], "hashed");
        Assert.StartsWith("ark_", minted.Key, StringComparison.Ordinal);
        await foreach (var row in host.Tables.ApiKeys.QueryAsync<Azure.Data.Tables.TableEntity>())
        {
            Assert.DoesNotContain(row, p => p.Value is string text && text.Contains(minted.Key, StringComparison.Ordinal));
            Assert.NotEqual(minted.Key, row.RowKey);
        }

        Assert.Equal(AgentRuns.Functions.Security.ApiKeyStore.Hash(minted.Key), minted.Hash);
    }

    [Fact]
    public async Task AnotherTenantsRun_AnswersExactlyLikeAMissingRun_OnEveryRoute_AndStaysUntouched()
    {
        var host = await RunsTestHost.GetAsync();
        var owner = await host.NewTenantAsync();
        var other = await host.NewTenantAsync();
        var runId = await owner.CreateRunAsync(Plan("""{"type":"approval"}"""));
        await owner.WaitForEventAsync(runId, "run.awaiting_input");
        var before = await owner.EventsAsync(runId);
        const string Missing = "run_00000000000000000000000000";

        foreach (var (method, suffix, body) in new[]
        {
            ("GET", "", (string?)null), ("GET", "/events", null), ("GET", "/events/stream", null),
            ("POST", "/signal", """{"action":"approve"}"""), ("POST", "/cancel", null),
        })
        {
            var foreign = await other.SendAsync(method, $"/v1/runs/{runId}{suffix}", body);
            var missing = await other.SendAsync(method, $"/v1/runs/{Missing}{suffix}", body);
            Assert.Equal(404, foreign.Status);
            Assert.Equal("run_not_found", foreign.ReasonCode);
            Assert.Equal(missing.Body.Replace(Missing, runId, StringComparison.Ordinal), foreign.Body);
        }

        var list = await other.GetAsync("/v1/runs?limit=100");
        Assert.DoesNotContain(list.Json.GetProperty("data").EnumerateArray(), r => r.GetProperty("id").GetString() == runId);
        Assert.Contains((await owner.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").EnumerateArray(), r => r.GetProperty("id").GetString() == runId);

        await owner.WaitForStatusAsync(runId, "awaiting_input");
        Assert.Equal(before.Count, (await owner.EventsAsync(runId)).Count);
        Assert.Equal(202, (await owner.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        Assert.Equal("run.worker.succeeded", Type((await owner.WaitForEndAsync(runId))[^1]));
    }
}
