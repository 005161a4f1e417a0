using System.Net;
using Azure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Storage;

/// <summary>How long start-up storage work waits between attempts in Azure: from <see cref="First"/>, doubling, at most <see cref="Max"/>.</summary>
public sealed record StartupRetry(TimeSpan First, TimeSpan Max)
{
    public static readonly StartupRetry Default = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60));
}

/// <summary>
/// Storage work the app does when it starts (create the tables, store the development key), and the one place that
/// decides what a failure of it does:
/// <list type="bullet">
/// <item>With <c>RunStorage:ConnectionString</c> (Azurite: local runs and the tests) the work is done before the host
/// serves a request, and a failure stops the host: Azurite starts empty and the first request needs the tables.</item>
/// <item>With <c>RunStorage:TableServiceUri</c> (Azure, managed identity) the Bicep has created the tables already, and
/// right after a first deployment the identity's role assignments may not have applied yet (403
/// AuthorizationPermissionMismatch). The work then runs in the background, retried with backoff and a warning per
/// failure, and never fails start-up, so the host waits Azure out instead of crash-looping.</item>
/// </list>
/// </summary>
internal abstract partial class StartupStorageWork(IOptions<RunStorageOptions> storage, ILogger logger, TimeProvider time, StartupRetry? retry)
    : IHostedService, IDisposable
{
    private readonly StartupRetry _retry = retry ?? StartupRetry.Default;
    private readonly CancellationTokenSource _stopping = new();
    private Task _background = Task.CompletedTask;

    /// <summary>What the work does, for the logs ("create the tables").</summary>
    protected abstract string Description { get; }

    /// <summary>The work itself; idempotent, as it may run several times.</summary>
    protected abstract Task DoWorkAsync(CancellationToken cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(storage.Value.ConnectionString))
        {
            return DoWorkAsync(cancellationToken);
        }

        _background = RetryUntilDoneAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _background.WaitAsync(cancellationToken);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RetryUntilDoneAsync(CancellationToken stopping)
    {
        // Off the start-up path: StartAsync has returned before the first attempt.
        await Task.Yield();
        var delay = _retry.First;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DoWorkAsync(stopping);
                if (attempt > 1)
                {
                    LogDoneAfterRetries(logger, Description, attempt);
                }

                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Forbidden)
            {
                LogForbidden(logger, Description, ex.ErrorCode, attempt, delay);
            }
            catch (Exception ex)
            {
                // Whatever storage or signing in throws here must not stop the host: logged, then retried.
                LogFailed(logger, ex, Description, attempt, delay);
            }

            try
            {
                await Task.Delay(delay, time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _retry.Max.Ticks));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "Start-up storage work ({Work}) was refused by storage: 403 {ErrorCode} (attempt {Attempt}). Right after a first "
        + "deployment the app identity's role assignments can take several minutes to apply; retrying in {Delay}. Until "
        + "then requests that need storage fail. If this lasts more than 15 minutes, check the identity's roles on the "
        + "storage account (docs/deploy.md).")]
    private static partial void LogForbidden(ILogger logger, string work, string? errorCode, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up storage work ({Work}) failed (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string work, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up storage work ({Work}) done after {Attempt} attempts")]
    private static partial void LogDoneAfterRetries(ILogger logger, string work, int attempt);
}
