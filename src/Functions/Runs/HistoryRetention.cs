using AgentRuns.Functions.Orchestrations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// Forgets finished runs' working state older than <see cref="RunOptions.HistoryRetentionDays"/>: for each run whose
/// orchestration finished and was created before the cut-off, first what its agent kept beside the history
/// (<see cref="IAgentRunState"/>: a model's conversation, a worker's step decisions), then its Durable history (inputs, raised
/// answers, activity results). In that order, so that a pass that dies half-way leaves the run listed for the next pass. Runs
/// and their events stay in the Runs table; the API serves them as before.
/// </summary>
public sealed partial class HistoryRetention(
    IOptions<RunOptions> options, TimeProvider time, IEnumerable<IAgentRunState> agentState, ILogger<HistoryRetention> logger)
{
    /// <summary>How many runs one query lists; a pass repeats it until nothing is left (or nothing could be purged).</summary>
    internal const int BatchSize = 200;

    /// <summary>Runs purged side by side (a few storage requests each), so a backlog of thousands takes minutes, not an hour.</summary>
    private const int Parallelism = 8;

    private readonly IAgentRunState[] _agentState = [.. agentState];

    public async Task<int> PurgeAsync(IRunEngine engine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var createdBefore = time.GetUtcNow().AddDays(-options.Value.HistoryRetentionDays);
        var purged = 0;
        while (true)
        {
            var finished = await engine.ListFinishedAsync(createdBefore, BatchSize, cancellationToken);
            var purgedNow = 0;
            await Parallel.ForEachAsync(
                finished,
                new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
                async (runId, ct) =>
                {
                    foreach (var state in _agentState)
                    {
                        await state.ForgetAsync(runId, ct);
                    }

                    if (await engine.PurgeAsync(runId, ct))
                    {
                        Interlocked.Increment(ref purgedNow);
                    }
                });

            purged += purgedNow;

            // A short page is the last one; a page of which nothing could be purged would come back the same.
            if (finished.Count < BatchSize || purgedNow == 0)
            {
                break;
            }
        }

        LogPurged(logger, purged, createdBefore);
        return purged;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged the working state and Durable history of {Count} finished runs created before {CreatedBefore}")]
    private static partial void LogPurged(ILogger logger, int count, DateTimeOffset createdBefore);
}
