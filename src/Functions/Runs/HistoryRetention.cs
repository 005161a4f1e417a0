using AgentRuns.Functions.Orchestrations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// Deletes the Durable history (inputs, raised answers, activity results) of finished runs older than
/// <see cref="RunOptions.HistoryRetentionDays"/>. Runs and their events stay in the Runs table.
/// </summary>
public sealed partial class HistoryRetention(IOptions<RunOptions> options, TimeProvider time, ILogger<HistoryRetention> logger)
{
    public async Task<int> PurgeAsync(IRunEngine engine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var createdBefore = time.GetUtcNow().AddDays(-options.Value.HistoryRetentionDays);
        var purged = await engine.PurgeFinishedAsync(createdBefore, cancellationToken);
        LogPurged(logger, purged, createdBefore);
        return purged;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged the Durable history of {Count} finished runs created before {CreatedBefore}")]
    private static partial void LogPurged(ILogger logger, int count, DateTimeOffset createdBefore);
}
