using System.Text.Json;
using Azure.Data.Tables;

namespace AgentRuns.LocalHost;

/// <summary>
/// Diagnostics routes of the local host for the benchmarks, on when <c>LocalHost:CountStorageRequests</c> is true:
/// <c>GET /_localhost/storage-requests</c> (counts since the last reset; POST reads and resets) and
/// <c>GET /_localhost/memory</c> (GC heap and working set; <c>?collect=true</c> collects first). They are plain
/// middleware in front of the functions, not functions: the Functions host has no such routes.
/// </summary>
public static partial class LocalHostDiagnostics
{
    public const string StorageRequestsPath = "/_localhost/storage-requests";
    public const string MemoryPath = "/_localhost/memory";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
    };

    /// <summary>Counts the storage requests of the app's tables (through <see cref="TableClientOptions"/> in DI) and, in
    /// <see cref="DurableAzureStorageExtensions"/>, those of the Durable backend.</summary>
    public static IServiceCollection AddStorageRequestCounting(this IServiceCollection services)
    {
        var counter = new StorageRequestCounter(TimeProvider.System);
        services.AddSingleton(counter);
        services.AddSingleton(counter.Attach(new TableClientOptions(), StorageRequestCounter.App, StorageRequestCounter.Tables));
        return services;
    }

    /// <summary>Serves the diagnostics routes when storage requests are counted; does nothing otherwise.</summary>
    public static void UseLocalHostDiagnostics(this WebApplication app, int apiPort)
    {
        ArgumentNullException.ThrowIfNull(app);
        var counter = app.Services.GetService<StorageRequestCounter>();
        if (counter is null)
        {
            return;
        }

        app.Use((context, next) => context.Request.Path.Value switch
        {
            StorageRequestsPath => StorageRequestsAsync(context, counter),
            MemoryPath => MemoryAsync(context),
            _ => next(context),
        });
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LocalHostDiagnostics).Namespace!);
        LogDiagnostics(logger, apiPort);
    }

    private static Task StorageRequestsAsync(HttpContext context, StorageRequestCounter counter)
    {
        if (HttpMethods.IsGet(context.Request.Method))
        {
            return context.Response.WriteAsJsonAsync(counter.Read(), Json);
        }

        if (HttpMethods.IsPost(context.Request.Method))
        {
            return context.Response.WriteAsJsonAsync(counter.Reset(), Json);
        }

        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        return Task.CompletedTask;
    }

    private static Task MemoryAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return Task.CompletedTask;
        }

        var collect = string.Equals(context.Request.Query["collect"], "true", StringComparison.OrdinalIgnoreCase);
        if (collect)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }

        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var info = GC.GetGCMemoryInfo();
        return context.Response.WriteAsJsonAsync(
            new
            {
                collected = collect,
                serverGc = System.Runtime.GCSettings.IsServerGC,
                workingSetBytes = process.WorkingSet64,
                gcHeapBytes = info.HeapSizeBytes,
                gcTotalMemoryBytes = GC.GetTotalMemory(forceFullCollection: false),
                gcCommittedBytes = info.TotalCommittedBytes,
                gen0Collections = GC.CollectionCount(0),
                gen1Collections = GC.CollectionCount(1),
                gen2Collections = GC.CollectionCount(2),
                threads = process.Threads.Count,
            },
            Json);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Counting storage requests: http://127.0.0.1:{Port}" + StorageRequestsPath + " (GET; POST resets), " + MemoryPath)]
    private static partial void LogDiagnostics(ILogger logger, int port);
}
