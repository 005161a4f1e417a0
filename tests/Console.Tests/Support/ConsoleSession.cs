using System.Collections.Concurrent;
using AgentRuns.EndToEnd.Tests.Support;
using AgentRuns.Testing.Contract;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AgentRuns.Console.Tests.Support;

/// <summary>
/// One operator in a fresh browser context (its own sessionStorage). Records every dialog the page opens (there must be
/// none) and checks every response the page receives from the app against the OpenAPI document.
/// </summary>
public sealed class ConsoleSession : IAsyncDisposable
{
    private readonly ConcurrentQueue<Task> _checks = new();
    private readonly ConcurrentQueue<string> _violations = new();

    private ConsoleSession(IBrowserContext context, IPage page, LocalHostProcess host)
    {
        Context = context;
        Page = page;
        Host = host;
        page.Dialog += (_, dialog) =>
        {
            Dialogs.Enqueue($"{dialog.Type}: {dialog.Message}");
            _ = dialog.DismissAsync();
        };
        page.Request += (_, request) => Requests.Enqueue(request);
        page.PageError += (_, error) => Errors.Enqueue($"uncaught: {error}");
        page.Console += (_, message) =>
        {
            // What the browser refused under the Content-Security-Policy or Trusted Types (failed loads, such as the 401 of a
            // wrong key, are expected and not listed).
            if (message.Type == "error" && (message.Text.Contains("Content Security Policy", StringComparison.Ordinal) || message.Text.Contains("Trusted Type", StringComparison.Ordinal)))
            {
                Errors.Enqueue(message.Text);
            }
        };
        page.Response += (_, response) => _checks.Enqueue(CheckAsync(response));
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public LocalHostProcess Host { get; }

    public ConcurrentQueue<string> Dialogs { get; } = new();

    public ConcurrentQueue<IRequest> Requests { get; } = new();

    /// <summary>Uncaught script errors and what the page's security policy refused: there must be none.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    public static async Task<ConsoleSession> OpenAsync(ConsoleFixture fixture, int width = 1280, int height = 900)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.Host.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        var page = await context.NewPageAsync();
        return new ConsoleSession(context, page, fixture.Host);
    }

    /// <summary>Opens the console and signs in with the host's key, by keyboard.</summary>
    public async Task SignInAsync(string fragment = "")
    {
        await Page.GotoAsync("/console" + fragment);
        var key = Page.GetByLabel("API key");
        await key.FillAsync(Host.Settings.ApiKey);
        await key.PressAsync("Enter");
        await Expect(Page.GetByRole(AriaRole.Navigation, new() { Name = "Sections" })).ToBeVisibleAsync();
    }

    /// <summary>Runs a test's steps; on failure saves a full-page screenshot to artifacts/console/failures.</summary>
    public async Task RunAsync(string name, Func<IPage, Task> steps)
    {
        try
        {
            await steps(Page);
        }
        catch
        {
            var folder = Path.Combine(ConsoleFixture.Artifacts, "failures");
            Directory.CreateDirectory(folder);
            await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
            throw;
        }
    }

    /// <summary>Saves artifacts/console/{name}.png: the whole page, or what the window shows.</summary>
    public Task ScreenshotAsync(string name, bool fullPage = true) =>
        Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleFixture.Artifacts, name + ".png"), FullPage = fullPage });

    /// <summary>Every response of the app the page received matched the OpenAPI document; no dialog was opened; no script
    /// failed and nothing was refused by the Content-Security-Policy.</summary>
    public async Task AssertCleanAsync()
    {
        while (_checks.TryDequeue(out var check))
        {
            await check;
        }

        Assert.Empty(_violations);
        Assert.Empty(Dialogs);
        Assert.Empty(Errors);
    }

    public async ValueTask DisposeAsync() => await Context.CloseAsync();

    private async Task CheckAsync(IResponse response)
    {
        var uri = new Uri(response.Url);
        if (uri.Port != Host.Settings.HttpPort || response.Request.ResourceType == "other")
        {
            return; // another origin, or what the browser fetches for itself (the tab's icon, whose headers it does not report)
        }

        try
        {
            var headers = await response.AllHeadersAsync();
            var contentType = headers.TryGetValue("content-type", out var type) ? type.Split(';')[0].Trim() : null;
            var body = contentType is null or "text/event-stream" || response.Status == 304 ? "" : await response.TextAsync();
            ApiContract.Default.Check(response.Request.Method, uri.AbsolutePath, response.Status, contentType,
                name => headers.TryGetValue(name.ToLowerInvariant(), out var value) ? value : null, body);
        }
        catch (ApiContractViolationException ex)
        {
            _violations.Enqueue(ex.Message);
        }
        catch (PlaywrightException)
        {
            // The body is gone (the page navigated away): nothing left to check.
        }
    }
}
