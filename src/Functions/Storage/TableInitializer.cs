using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// Creates the tables at start-up: Azurite starts empty; in Azure the Bicep has created them and this only confirms it,
/// in the background (see <see cref="StartupStorageWork"/>).
/// </summary>
internal sealed class TableInitializer(
    RunTables tables, IOptions<RunStorageOptions> storage, ILogger<TableInitializer> logger, TimeProvider time, StartupRetry? retry = null)
    : StartupStorageWork(storage, logger, time, retry)
{
    protected override string Description => "create the tables";

    protected override Task DoWorkAsync(CancellationToken cancellationToken) => tables.EnsureCreatedAsync(cancellationToken);
}
