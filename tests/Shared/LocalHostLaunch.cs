using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace AgentRuns.Testing;

/// <summary>
/// How the end-to-end tests and the benchmarks start the local host as a child process (<c>dotnet AgentRuns.LocalHost.dll</c>)
/// and tell when it is ready: configured only through environment variables, on its own ports, task hub and tables.
/// </summary>
public static class LocalHostLaunch
{
    /// <summary>The start of <c>AgentRuns.LocalHost.dll</c> next to the caller's assembly, its output redirected.</summary>
    /// <param name="settings">Further settings (<c>Section__Key</c>), such as a short stream bound for a test.</param>
    public static ProcessStartInfo StartInfo(
        int httpPort, int grpcPort, string hubName, string workerId, string storageConnectionString, string tablePrefix, string apiKey, string tenant,
        IReadOnlyDictionary<string, string>? settings = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "AgentRuns.LocalHost.dll") },
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["LocalHost__HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
                ["LocalHost__GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
                ["LocalHost__HubName"] = hubName,
                ["LocalHost__WorkerId"] = workerId,
                ["AzureWebJobsStorage"] = storageConnectionString,
                ["RunStorage__ConnectionString"] = storageConnectionString,
                ["RunStorage__RunsTable"] = tablePrefix + "Runs",
                ["RunStorage__OpenRunsTable"] = tablePrefix + "Open",
                ["RunStorage__IdempotencyTable"] = tablePrefix + "Idem",
                ["RunStorage__ApiKeysTable"] = tablePrefix + "Keys",
                ["RunStorage__WebhooksTable"] = tablePrefix + "Hooks",
                ["RunStorage__WebhookOutboxTable"] = tablePrefix + "HookOut",
                ["RunStorage__WebhookAttemptsTable"] = tablePrefix + "HookLog",
                ["RunStorage__ModelTurnsTable"] = tablePrefix + "Turns",
                ["RunStorage__EmailOutboxTable"] = tablePrefix + "Mail",
                ["RunStorage__WorkersTable"] = tablePrefix + "Workers",
                ["RunStorage__WorkerStepsTable"] = tablePrefix + "WSteps",
                ["Auth__DevelopmentKey"] = apiKey,
                ["Auth__DevelopmentTenant"] = tenant,
                ["DOTNET_hostBuilder__reloadConfigOnChange"] = "false",
                ["Logging__LogLevel__Default"] = "Warning",
            },
        };
        foreach (var (name, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        return start;
    }

    /// <summary>
    /// Waits until the API answers an authenticated <c>GET /v1/runs</c> with 200; fails at once if the process exits, or
    /// after <paramref name="timeout"/>, with the host's output in the message.
    /// </summary>
    public static async Task WaitUntilReadyAsync(Process process, HttpClient http, Func<string> output, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var lastAnswer = "no answer";
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The local host exited with {process.ExitCode} before it was ready:{Environment.NewLine}{output()}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/v1/runs?limit=1", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                lastAnswer = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The local host was not ready within {timeout} (last answer: {lastAnswer}):{Environment.NewLine}{output()}");
            }

            await Task.Delay(50);
        }
    }
}
