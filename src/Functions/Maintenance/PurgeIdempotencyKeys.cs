using AgentRuns.Functions.Idempotency;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Maintenance;

/// <summary>Deletes idempotency keys past their retention, every hour.</summary>
public sealed partial class PurgeIdempotencyKeys(IdempotencyStore store, ILogger<PurgeIdempotencyKeys> logger)
{
    [Function(nameof(PurgeIdempotencyKeys))]
    public async Task Run([TimerTrigger("0 17 * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        var deleted = await store.PurgeExpiredAsync(cancellationToken);
        LogPurged(logger, deleted);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged {Count} expired idempotency keys")]
    private static partial void LogPurged(ILogger logger, int count);
}
