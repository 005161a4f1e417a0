using System.Threading.Channels;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// Deliveries to attempt now, in this process: the outbox hands over what a write just recorded, and a failed attempt whose retry
/// is due soon comes back here after its delay. A bounded queue that never blocks the writer: when full, a kick is dropped and
/// the delivery waits for the next dispatcher pass (it is in the outbox table either way).
/// <see cref="WebhookDispatcher.ProcessKicksAsync"/> empties it.
/// </summary>
public sealed class WebhookKicks(TimeProvider time)
{
    private const int Capacity = 10_000;

    private readonly Channel<string> _keys = Channel.CreateBounded<string>(
        new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public ChannelReader<string> Reader => _keys.Reader;

    /// <summary>Asks for an attempt of the delivery with outbox key <paramref name="key"/> as soon as possible.</summary>
    public void Kick(string key) => _keys.Writer.TryWrite(key);

    /// <summary>Asks for an attempt after <paramref name="delay"/> (best effort: the outbox table has it due anyway).</summary>
    public void KickAfter(string key, TimeSpan delay, CancellationToken stopping)
    {
        _ = Task.Delay(delay, time, stopping).ContinueWith(
            t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    Kick(key);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
