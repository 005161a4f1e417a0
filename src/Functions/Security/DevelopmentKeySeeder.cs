using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Security;

/// <summary>Stores the configured development key's hash at start-up (local runs only: Azure sets no such key).</summary>
internal sealed class DevelopmentKeySeeder(RunTables tables, ApiKeyStore keys, IOptions<AuthOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.DevelopmentKey))
        {
            return;
        }

        await tables.EnsureCreatedAsync(cancellationToken);
        await keys.EnsureAsync(o.DevelopmentKey, o.DevelopmentTenant, "development key", cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
