using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Security;

/// <summary>
/// Stores the configured development key's hash at start-up (local runs only: Azure sets no such key). When and how
/// failures are retried: <see cref="StartupStorageWork"/>.
/// </summary>
internal sealed class DevelopmentKeySeeder(
    RunTables tables,
    ApiKeyStore keys,
    IOptions<AuthOptions> options,
    IOptions<RunStorageOptions> storage,
    ILogger<DevelopmentKeySeeder> logger,
    TimeProvider time,
    StartupRetry? retry = null)
    : StartupStorageWork(storage, logger, time, retry)
{
    protected override string Description => "store the development key";

    protected override async Task DoWorkAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.DevelopmentKey))
        {
            return;
        }

        await tables.EnsureCreatedAsync(cancellationToken);
        await keys.EnsureAsync(o.DevelopmentKey, o.DevelopmentTenant, "development key", cancellationToken);
    }
}
