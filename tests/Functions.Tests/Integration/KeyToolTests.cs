using AgentRuns.Functions.Tests.Support;
using AgentRuns.Tools;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>The documented key commands: a minted key works at once, a revoked one stops at once.</summary>
public sealed class KeyToolTests
{
    [Fact]
    public async Task MintKey_PrintsAWorkingKeyOnce_AndRevokeKeyStopsIt()
    {
        var host = await RunsTestHost.GetAsync();
        var tenant = "tool-" + Guid.NewGuid().ToString("N")[..8];
        var output = new StringWriter();
        var error = new StringWriter();

        var minted = await KeyCommands.RunAsync(
            ["mint-key", "--tenant", tenant, "--name", "ci", "--connection-string", Azurite.ConnectionString, "--table", host.TablePrefix + "Keys"], output, error);
        Assert.True(minted == 0, error.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var key = lines.Single(l => l.StartsWith("api_key:", StringComparison.Ordinal))["api_key:".Length..].Trim();
        var hash = lines.Single(l => l.StartsWith("hash:", StringComparison.Ordinal))["hash:".Length..].Trim().Split(' ')[0];

        var client = new ApiClient(host, key);
        Assert.Equal(200, (await client.GetAsync("/v1/runs")).Status);

        output.GetStringBuilder().Clear();
        Assert.Equal(0, await KeyCommands.RunAsync(
            ["revoke-key", "--hash", hash, "--connection-string", Azurite.ConnectionString, "--table", host.TablePrefix + "Keys"], output, error));
        Assert.Equal(401, (await client.GetAsync("/v1/runs")).Status);
    }

    [Fact]
    public async Task BadArguments_PrintUsage_AndExit2()
    {
        var error = new StringWriter();
        Assert.Equal(2, await KeyCommands.RunAsync(["mint-key", "--tenant"], TextWriter.Null, error));
        Assert.Contains("usage:", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await KeyCommands.RunAsync([], TextWriter.Null, error));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("ta\n")] // a regex's $ matches before a final newline: such a tenant's every write failed with a 500
    public async Task AMalformedTenant_IsRefusedWithUsage_NotACrash_AndNoKeyIsStored(string tenant)
    {
        var host = await RunsTestHost.GetAsync();
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await KeyCommands.RunAsync(
            ["mint-key", "--tenant", tenant, "--name", "ci", "--connection-string", Azurite.ConnectionString, "--table", host.TablePrefix + "Keys"], output, error);

        Assert.Equal(2, exit);
        Assert.Contains("usage:", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("api_key:", output.ToString(), StringComparison.Ordinal);
    }
}
