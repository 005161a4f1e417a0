using AgentRuns.EndToEnd.Tests.Support;
using Microsoft.Playwright;

namespace AgentRuns.Console.Tests.Support;

/// <summary>
/// A local host (on fresh ports, tables and task hub, with a stream bound of a few seconds so that every open run view
/// resumes its stream with Last-Event-ID again and again) and Debian's chromium driven by Playwright. Nothing is downloaded:
/// the driver ships in the Microsoft.Playwright package and the browser is the system's.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>How long the server keeps one stream response before it aborts it (Streams:MaxDurationSeconds).</summary>
    public const int StreamBoundSeconds = 3;

    private IPlaywright? _playwright;

    public LocalHostProcess Host { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where screenshots go: artifacts/console (git-ignored).</summary>
    public static string Artifacts { get; } = Path.Combine(RepositoryRoot.Path, "artifacts", "console");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does.");
        }

        Directory.CreateDirectory(Artifacts);
        Assertions.SetDefaultExpectTimeout(30_000);
        var settings = LocalHostSettings.Fresh() with
        {
            Settings = new Dictionary<string, string> { ["Streams__MaxDurationSeconds"] = StreamBoundSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };
        Host = await LocalHostProcess.StartAsync(settings);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
    }
}
