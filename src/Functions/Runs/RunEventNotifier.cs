using System.Collections.Concurrent;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// Wakes the streams of a run in this process as soon as this process appends to its log. Streams whose events are
/// written by another instance still see them through polling; this only makes the common case immediate.
/// </summary>
public sealed class RunEventNotifier
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    /// <summary>
    /// A task that completes at the next <see cref="Notify"/> for the run. Take it before reading the log, so an
    /// append between the read and the wait is not missed.
    /// </summary>
    public Task NextAppend(string runId) =>
        _waiters.GetOrAdd(runId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Notify(string runId)
    {
        if (_waiters.TryRemove(runId, out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
