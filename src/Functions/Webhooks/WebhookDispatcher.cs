using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Webhooks;

/// <summary>What one dispatcher pass did.</summary>
public sealed record WebhookPass(int Looked, int Delivered, int Retrying, int Failed, int Disabled, int Dropped, int Waiting, int Skipped, int Errors);

/// <summary>What became of one delivery when it was taken up.</summary>
public enum WebhookVerdict
{
    /// <summary>The receiver answered 2xx; the delivery is done.</summary>
    Delivered,

    /// <summary>The attempt failed; the next one is scheduled.</summary>
    Retrying,

    /// <summary>The attempt failed and was the schedule's last: given up.</summary>
    Failed,

    /// <summary>The receiver answered 410: the subscription is disabled.</summary>
    Disabled,

    /// <summary>Not attempted and removed: its subscription is gone or disabled, or its event never made it into the run's log.</summary>
    Dropped,

    /// <summary>Not attempted yet: its event is not in the log yet (the run's write may be in flight).</summary>
    Waiting,

    /// <summary>Another process took it (or it was done meanwhile).</summary>
    Skipped,
}

/// <summary>
/// Delivers webhooks from the outbox, at least once: takes a due delivery (claims it with If-Match, so one process attempts it),
/// checks that its subscription still wants it and that its event is in the run's log (a delivery recorded for a write that did
/// not land is dropped after <see cref="WebhookOptions.MissingEventGraceSeconds"/>), POSTs the signed event, records the attempt,
/// and removes the delivery (2xx, 410, given up) or schedules the next attempt (<see cref="WebhookRetrySchedule"/>). Runs as the
/// <c>DeliverWebhooks</c> timer function every minute and on a schedule in the local host; deliveries just written are attempted at
/// once through <see cref="WebhookKicks"/>. A receiver's failure is recorded and retried; it never reaches a run.
/// </summary>
public sealed partial class WebhookDispatcher(
    WebhookOutboxIndex outbox,
    WebhookSubscriptionStore subscriptions,
    WebhookSubscriptionCache cache,
    WebhookAttemptLog attempts,
    RunStore runs,
    IWebhookTransport transport,
    WebhookUrlPolicy policy,
    WebhookKicks kicks,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : IDisposable
{
    /// <summary>A process that dies mid-attempt leaves its delivery due this long after the attempt's timeout.</summary>
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(30);

    /// <summary>How soon a delivery whose event is not in the log yet is looked at again.</summary>
    private static readonly TimeSpan MissingEventRecheck = TimeSpan.FromSeconds(5);

    /// <summary>Retries due within this are also kicked in this process, not only left to the next pass (a minute in Azure).</summary>
    private static readonly TimeSpan InProcessRetryWithin = TimeSpan.FromSeconds(60);

    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentDeliveries);
    private readonly WebhookRetrySchedule _schedule = new(options.Value.RetryDelays());

    /// <summary>Outbox rows of the previous version moved into the scheduled form per pass at most (one page of a query).</summary>
    private const int LegacyPerPass = 1000;

    /// <summary>
    /// Attempts every due delivery (at most <see cref="WebhookOptions.BatchSize"/>), several at once. First moves rows written by the
    /// previous version into the scheduled form (<see cref="WebhookOutboxIndex.MoveLegacyAsync"/>: one query that finds nothing once
    /// none are left), so they are due like any other.
    /// </summary>
    /// <param name="only">Limits the pass to some deliveries (tests that share the outbox).</param>
    public async Task<WebhookPass> RunOnceAsync(CancellationToken cancellationToken, Func<WebhookDelivery, bool>? only = null)
    {
        var moved = await outbox.MoveLegacyAsync(LegacyPerPass, cancellationToken);
        if (moved > 0)
        {
            LogMovedLegacy(logger, moved);
        }

        var due = (await outbox.DueAsync(time.GetUtcNow(), options.Value.BatchSize, cancellationToken)).Where(d => only?.Invoke(d) ?? true).ToList();
        var verdicts = await Task.WhenAll(due.Select(d => AttemptGuardedAsync(d, cancellationToken)));
        int Count(WebhookVerdict v) => verdicts.Count(x => x == v);
        var pass = new WebhookPass(
            due.Count, Count(WebhookVerdict.Delivered), Count(WebhookVerdict.Retrying), Count(WebhookVerdict.Failed), Count(WebhookVerdict.Disabled),
            Count(WebhookVerdict.Dropped), Count(WebhookVerdict.Waiting), Count(WebhookVerdict.Skipped), verdicts.Count(x => x is null));
        if (pass.Looked > 0)
        {
            LogPass(logger, pass.Looked, pass.Delivered, pass.Retrying, pass.Failed, pass.Disabled, pass.Dropped, pass.Waiting, pass.Errors);
        }

        return pass;
    }

    /// <summary>Attempts the deliveries kicked in this process as they come, until <paramref name="stopping"/>.</summary>
    public async Task ProcessKicksAsync(CancellationToken stopping)
    {
        await foreach (var key in kicks.Reader.ReadAllAsync(stopping))
        {
            await _slots.WaitAsync(stopping);
            _ = Task.Run(
                async () =>
                {
                    try
                    {
                        // Only if still due: another process may hold it, or it was done meanwhile.
                        if (await outbox.GetAsync(key, stopping) is { } delivery && delivery.NextAttemptAt <= time.GetUtcNow().AddSeconds(1))
                        {
                            await AttemptAsync(delivery, stopping);
                        }
                    }
                    catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                    {
                    }
#pragma warning disable CA1031 // A kick is best effort: the delivery is in the outbox and the next pass takes it.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        LogDeliveryFailed(logger, ex, key);
                    }
                    finally
                    {
                        _slots.Release();
                    }
                },
                CancellationToken.None);
        }
    }

    /// <summary>Deletes attempts past <see cref="WebhookOptions.AttemptRetentionDays"/> and those of deleted subscriptions.</summary>
    public async Task<int> PurgeAttemptsAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var live = await subscriptions.AllAttemptPartitionsAsync(cancellationToken);
        var deleted = await attempts.PurgeAsync(now.AddDays(-options.Value.AttemptRetentionDays), live, now, cancellationToken);
        LogPurged(logger, deleted);
        return deleted;
    }

    /// <summary>One attempt of one delivery, if it is still this process's to make.</summary>
    public async Task<WebhookVerdict> AttemptAsync(WebhookDelivery due, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(due);
        var o = options.Value;
        var timeout = TimeSpan.FromSeconds(o.AttemptTimeoutSeconds);
        var delivery = await outbox.ClaimAsync(due, time.GetUtcNow() + timeout + LeaseMargin, cancellationToken);
        if (delivery is null)
        {
            return WebhookVerdict.Skipped;
        }

        var subscription = await subscriptions.GetAsync(delivery.TenantId, delivery.WebhookId, cancellationToken);
        if (subscription is not { Enabled: true })
        {
            await outbox.RemoveAsync(delivery, cancellationToken);
            return WebhookVerdict.Dropped;
        }

        var logged = await runs.ReadEventsAsync(delivery.TenantId, delivery.RunId, delivery.Seq - 1, 1, cancellationToken);
        var e = logged.Count > 0 && logged[0].Seq == delivery.Seq ? logged[0] : null;
        if (e is null || !string.Equals(e.Type, delivery.EventType, StringComparison.Ordinal))
        {
            // Recorded before a write that has not landed yet, or never will (it lost a race and another event took its seq).
            if (e is null && time.GetUtcNow() - delivery.CreatedAt < TimeSpan.FromSeconds(o.MissingEventGraceSeconds))
            {
                await outbox.RescheduleAsync(delivery, time.GetUtcNow() + MissingEventRecheck, delivery.Attempts, cancellationToken);
                return WebhookVerdict.Waiting;
            }

            LogDropped(logger, delivery.MessageId, delivery.WebhookId, delivery.EventType);
            await outbox.RemoveAsync(delivery, cancellationToken);
            return WebhookVerdict.Dropped;
        }

        var message = WebhookMessage.For(delivery.RunId, e);
        var attemptAt = time.GetUtcNow();
        var (url, _, refusal) = policy.CheckSyntax(subscription.Url);
        var result = url is null
            ? new WebhookAttemptResult(null, "URL not allowed: " + refusal, TimeSpan.Zero)
            : await transport.PostAsync(url, message.Body, message.Headers(subscription.Secret, attemptAt), timeout, cancellationToken);
        var attempt = delivery.Attempts + 1;
        var retryIn = result.Delivered || result.Gone ? null : _schedule.DelayAfter(attempt);
        var nextAt = retryIn is { } wait ? time.GetUtcNow() + wait : (DateTimeOffset?)null;
        var verdict = result.Delivered ? WebhookVerdict.Delivered
            : result.Gone ? WebhookVerdict.Disabled
            : nextAt is null ? WebhookVerdict.Failed
            : WebhookVerdict.Retrying;
        var outcome = verdict switch
        {
            WebhookVerdict.Delivered => WebhookOutcomes.Delivered,
            WebhookVerdict.Disabled => WebhookOutcomes.Disabled,
            WebhookVerdict.Failed => WebhookOutcomes.Failed,
            _ => WebhookOutcomes.Retrying,
        };

        await attempts.RecordAsync(
            delivery.TenantId,
            delivery.WebhookId,
            new WebhookAttempt(
                delivery.MessageId, delivery.EventType, delivery.RunId, delivery.Seq, attempt, outcome, result.StatusCode, result.Error, attemptAt, nextAt,
                (long)result.Duration.TotalMilliseconds),
            cancellationToken);

        switch (verdict)
        {
            case WebhookVerdict.Retrying:
                LogRetrying(logger, delivery.MessageId, delivery.WebhookId, attempt, result.StatusCode, result.Error, nextAt!.Value);
                if (await outbox.RescheduleAsync(delivery, nextAt.Value, attempt, cancellationToken) && retryIn <= InProcessRetryWithin)
                {
                    kicks.KickAfter(delivery.Key, retryIn!.Value, cancellationToken);
                }

                break;

            case WebhookVerdict.Disabled:
                LogDisabled(logger, delivery.WebhookId, delivery.MessageId);
                await subscriptions.DisableAsync(delivery.TenantId, delivery.WebhookId, attemptAt, WebhookDisabledReasons.EndpointGone, cancellationToken);
                cache.Invalidate(delivery.TenantId);
                await outbox.RemoveAsync(delivery, cancellationToken);
                break;

            case WebhookVerdict.Failed:
                LogGaveUp(logger, delivery.MessageId, delivery.WebhookId, attempt);
                await outbox.RemoveAsync(delivery, cancellationToken);
                break;

            default:
                await outbox.RemoveAsync(delivery, cancellationToken);
                break;
        }

        return verdict;
    }

    public void Dispose() => _slots.Dispose();

    private async Task<WebhookVerdict?> AttemptGuardedAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            return await AttemptAsync(delivery, cancellationToken);
        }
#pragma warning disable CA1031 // One delivery's failure (storage) must not stop the pass; it is due again when its claim lapses.
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            LogDeliveryFailed(logger, ex, delivery.Key);
            return null;
        }
        finally
        {
            _slots.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Webhook pass: looked at {Looked}; delivered {Delivered}, retrying {Retrying}, failed {Failed}, disabled {Disabled}, dropped {Dropped}, waiting {Waiting}, errors {Errors}")]
    private static partial void LogPass(ILogger logger, int looked, int delivered, int retrying, int failed, int disabled, int dropped, int waiting, int errors);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Webhook {MessageId} to {WebhookId}: attempt {Attempt} failed ({StatusCode} {Error}); next at {NextAttemptAt}")]
    private static partial void LogRetrying(ILogger logger, string messageId, string webhookId, int attempt, int? statusCode, string? error, DateTimeOffset nextAttemptAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {MessageId} to {WebhookId}: given up after {Attempt} attempts")]
    private static partial void LogGaveUp(ILogger logger, string messageId, string webhookId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} answered 410 Gone to {MessageId}: the subscription is disabled")]
    private static partial void LogDisabled(ILogger logger, string webhookId, string messageId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Webhook {MessageId} to {WebhookId} dropped: its {EventType} event is not in the run's log (the write it was recorded for did not land)")]
    private static partial void LogDropped(ILogger logger, string messageId, string webhookId, string eventType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Key} failed before its attempt was recorded; it is due again when its claim lapses")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, string key);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Moved {Count} webhook deliveries written by the previous version into the outbox's schedule")]
    private static partial void LogMovedLegacy(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged {Count} webhook delivery attempts")]
    private static partial void LogPurged(ILogger logger, int count);
}

/// <summary>Why a subscription was disabled (<c>disabled_reason</c>).</summary>
public static class WebhookDisabledReasons
{
    /// <summary>The receiver answered 410 Gone.</summary>
    public const string EndpointGone = "endpoint_gone";
}
