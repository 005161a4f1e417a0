using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Webhooks;
using AgentRuns.Functions.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace AgentRuns.Functions.Agents;

public static class WorkerAgentServiceCollectionExtensions
{
    /// <summary>The longest wait between two attempts: the exponential back-off's cap, and a Retry-After's (a longer one is cut to this).</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>The longest one step's call may take with all its retries: each attempt's timeout and the longest back-off between them.</summary>
    public static TimeSpan TotalTimeout(WorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return TimeSpan.FromSeconds(((options.MaxRetries + 1) * options.TimeoutSeconds) + (options.MaxRetries * MaxRetryDelay.TotalSeconds));
    }

    /// <summary>The worker's Retry-After (seconds or a date), at most <see cref="MaxRetryDelay"/>; null for the back-off's own delay.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return delay is { } d ? TimeSpan.FromTicks(Math.Clamp(d.Ticks, 0, MaxRetryDelay.Ticks)) : null;
    }

    /// <summary>
    /// HTTP workers: their registrations, the HTTP client their calls go through (connections to public addresses only, checked
    /// when they are made; a total and a per-attempt timeout; retries of 429, 408, 5xx, timeouts and lost connections with
    /// exponential back-off that honours Retry-After up to 30 s, but never of a refused address; each attempt signed afresh), the agent and
    /// its provider in the agent catalog.
    /// </summary>
    public static IServiceCollection AddWorkerAgents(this IServiceCollection services)
    {
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        var http = services.AddHttpClient(WorkerClient.HttpClientName, client =>
            {
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("AgentRuns-Workers/1.0");
            })
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<PublicAddressConnector>().CreateHandler())
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);

        // The resilience handler first (outermost), then the signing handler: every attempt is signed when it is made.
        http.AddResilienceHandler("worker-calls", (pipeline, context) =>
        {
            var o = context.ServiceProvider.GetRequiredService<IOptions<WorkerOptions>>().Value;
            pipeline.AddTimeout(TotalTimeout(o));
            if (o.MaxRetries > 0)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = o.MaxRetries,
                    Delay = TimeSpan.FromMilliseconds(o.RetryDelayMilliseconds),
                    MaxDelay = MaxRetryDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    // A worker's Retry-After is honoured up to MaxRetryDelay: taken as it is, an hour would leave the step idle
                    // until the total timeout, which would then be reported instead of the worker's answer.
                    ShouldRetryAfterHeader = false,
                    DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result)),
                    ShouldHandle = args => ValueTask.FromResult(
                        (args.Outcome.Exception is not HttpRequestException refused || !PublicAddressConnector.IsRefused(refused))
                        && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
                });
            }

            pipeline.AddTimeout(TimeSpan.FromSeconds(o.TimeoutSeconds));
        });
        http.AddHttpMessageHandler(sp => new WorkerSigningHandler(sp.GetRequiredService<TimeProvider>()));

        services.TryAddSingleton<WorkerStore>();
        services.TryAddSingleton<WorkerStepStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAgentRunState, WorkerStepStore>(sp => sp.GetRequiredService<WorkerStepStore>()));
        services.TryAddSingleton<WorkerClient>();
        services.TryAddSingleton<WorkerAgent>();
        services.TryAddSingleton<WorkerService>();
        services.AddSingleton<IAgentProvider, WorkerAgentProvider>();
        return services;
    }
}
